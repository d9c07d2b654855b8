package io.ukernel.cli;

import io.ukernel.app.EnvFile;
import io.ukernel.app.EnvFileException;
import io.ukernel.app.Manifest;
import io.ukernel.app.ManifestParser;
import io.ukernel.vmm.image.OciPacker;
import io.ukernel.vmm.k8s.KubernetesManifests;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ukernel k8s [DIR]}: Kubernetes objects for the app's OCI image, {@code dist/NAME.k8s.yaml}. */
@Command(
        name = "k8s",
        header = "Write Kubernetes objects for the app's OCI image: dist/NAME.k8s.yaml.",
        mixinStandardHelpOptions = true,
        description = {
            "Write dist/NAME.k8s.yaml for the image of `ukernel pack --oci` (pushed with `ukernel push`): a "
                    + "Deployment when the app binds ports or restarts always, else a Job; a Service and TCP probes "
                    + "for its ports ([caps.net] bind entries with a fixed port, and --port); a memory limit "
                    + "estimated from [limits] tasks (--memory to set it); the image's non-root user with every "
                    + "capability dropped, a read-only root, the runtime's default seccomp profile and an emptyDir on "
                    + "/tmp; env/ukernel.env as env entries (move secrets to a Secret). --runtime-class runsc runs "
                    + "it under gVisor, kata under Kata Containers (the cluster must define that RuntimeClass). "
                    + "Apply it with kubectl apply -f. See docs/deploy.md."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel k8s --image registry.example/echo:1 --port 8007",
            "  ukernel k8s --image registry.example/echo:1 --replicas 3 --runtime-class kata",
            "  ukernel k8s examples/hello --image localhost:5000/hello:latest --kind job"
        })
public final class K8sCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR", description = "The app directory (default: .)")
    Path dir = Path.of(".");

    @Option(names = "--image", paramLabel = "REF", description = "The image the cluster pulls, as pushed with "
            + "`ukernel push REF`. Default: NAME:latest (a node-local image).")
    String image;

    @Option(names = "--kind", paramLabel = "KIND", description = "deployment or job. Default: deployment when the app "
            + "binds ports or its restart policy is always, else job.")
    String kind;

    @Option(names = "--replicas", paramLabel = "N", defaultValue = "1",
            description = "Replicas of a Deployment. Default: ${DEFAULT-VALUE}.")
    int replicas;

    @Option(names = "--port", paramLabel = "PORT", description = "A TCP port the app listens on (repeatable), for "
            + "apps whose [caps.net] bind entry has no fixed port.")
    List<Integer> ports = new ArrayList<>();

    @Option(names = "--runtime-class", paramLabel = "NAME",
            description = "runtimeClassName of the pod: runsc (gVisor), kata (Kata Containers), or another handler.")
    String runtimeClass;

    @Option(names = "--memory", paramLabel = "QTY", description = "Memory request and limit, e.g. 512Mi. Default: "
            + "128Mi + 16Mi per task of [limits] tasks (at most 16).")
    String memory;

    @Option(names = "--cpu", paramLabel = "QTY", description = "CPU request, e.g. 250m. Default: 100m.")
    String cpu;

    @Option(names = "--user", paramLabel = "UID", defaultValue = "65532",
            description = "The uid the pod runs as (the image's: pack --oci --user). Default: ${DEFAULT-VALUE}.")
    int user;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Where to write. Default: "
            + "dist/NAME.k8s.yaml; - for standard output.")
    String output;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path app = dir.toAbsolutePath().normalize();
        PackCommand.requireApp(app);
        Manifest m = ManifestParser.parse(app.resolve(Manifest.FILE_NAME));
        KubernetesManifests.Kind k = null;
        if (kind != null) {
            k = switch (kind.toLowerCase(Locale.ROOT)) {
                case "deployment" -> KubernetesManifests.Kind.DEPLOYMENT;
                case "job" -> KubernetesManifests.Kind.JOB;
                default -> throw new UserError("--kind must be deployment or job, got \"" + kind + "\"");
            };
        }
        if (replicas < 0) {
            throw new UserError("--replicas must be 0 or more, got " + replicas);
        }
        for (int p : ports) {
            if (p < 1 || p > 65535) {
                throw new UserError("--port must be 1..65535, got " + p);
            }
        }
        String quantity = "\\d+(\\.\\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?";
        if (memory != null && !memory.matches(quantity)) {
            throw new UserError("--memory must be a Kubernetes quantity such as 512Mi or 1Gi, got \"" + memory + "\"");
        }
        if (cpu != null && !cpu.matches("\\d+(\\.\\d+)?m?")) {
            throw new UserError("--cpu must be a Kubernetes quantity such as 250m or 1, got \"" + cpu + "\"");
        }
        if (runtimeClass != null && !runtimeClass.matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?")) {
            throw new UserError("--runtime-class must be a RuntimeClass name (lower case, digits, '-', '.'), got \""
                    + runtimeClass + "\"");
        }
        Map<String, String> env;
        try {
            env = EnvFile.parse(app.resolve(EnvFile.PATH));
        } catch (EnvFileException e) {
            throw new UserError(e.getMessage(), e);
        }
        String ref = image != null ? image : m.name() + ":latest";
        KubernetesManifests.Result r = KubernetesManifests.build(new KubernetesManifests.Inputs(m, ref, k, replicas,
                KubernetesManifests.ports(m, ports), env, runtimeClass, memory, cpu, user));
        String yaml = "# " + m.name() + ": generated by `ukernel k8s` from ukernel.toml (policy: "
                + OciPacker.policySummary(m) + ")\n" + r.yaml();
        if ("-".equals(output)) {
            out.print(yaml);
            out.flush();
            r.warnings().forEach(w -> spec.commandLine().getErr().println("warning: " + w));
            return 0;
        }
        Path file = output != null ? Path.of(output).toAbsolutePath() : app.resolve("dist/" + m.name() + ".k8s.yaml");
        Files.createDirectories(file.getParent());
        Files.writeString(file, yaml, StandardCharsets.UTF_8);
        out.println("Wrote " + InitCommand.display(file) + ": a " + (r.kind() == KubernetesManifests.Kind.DEPLOYMENT
                ? "Deployment" : "Job") + (r.objects().size() > 1 ? " and a Service" : "") + " for image " + ref
                + (runtimeClass != null ? ", runtimeClassName " + runtimeClass : ""));
        r.warnings().forEach(w -> out.println("  warning: " + w));
        out.println("Apply it: kubectl apply -f " + InitCommand.display(file));
        out.flush();
        return 0;
    }
}
