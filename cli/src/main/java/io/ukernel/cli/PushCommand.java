package io.ukernel.cli;

import io.ukernel.app.json.Json;
import io.ukernel.vmm.image.OciPacker;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ukernel push REF [DIR]}: copies the app's OCI image to a registry with skopeo. */
@Command(
        name = "push",
        header = "Copy the app's OCI image (dist/NAME.oci) to a registry, with skopeo.",
        mixinStandardHelpOptions = true,
        description = {
            "Copy the app's OCI image to a registry as REF (registry/repository:tag): `skopeo copy "
                    + "oci:dist/NAME.oci:latest docker://REF`. Packs it first (`ukernel pack --oci`) when it is "
                    + "missing or holds an older bundle. Only layers the registry lacks are sent: after a code "
                    + "change, the app layer. Credentials: `skopeo login REGISTRY` (or --authfile). Needs skopeo "
                    + "(Debian/Ubuntu: apt-get install skopeo)."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel push registry.example/team/hello:1",
            "  ukernel push localhost:5000/hello:latest --insecure     a local registry over plain HTTP",
            "  ukernel push ghcr.io/me/echo:2 examples/echo --authfile ~/.docker/config.json"
        })
public final class PushCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "REF", description = "Where to: REGISTRY/REPOSITORY:TAG (docker:// is implied).")
    String ref;

    @Parameters(index = "1", arity = "0..1", paramLabel = "DIR", description = "The app directory (default: .)")
    Path dir = Path.of(".");

    @Option(names = "--insecure", description = "Plain HTTP or an unverified TLS certificate (a local registry).")
    boolean insecure;

    @Option(names = "--authfile", paramLabel = "FILE", description = "skopeo's credentials file.")
    Path authfile;

    @Option(names = {"-q", "--quiet"}, description = "Print only the result line.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        String dest = ref.startsWith("docker://") ? ref.substring("docker://".length()) : ref;
        if (!dest.matches("[a-zA-Z0-9][\\w.:-]*(/[\\w.-]+)+(:[\\w][\\w.-]{0,127})?(@sha256:[0-9a-f]{64})?")) {
            throw new UserError("REF must be REGISTRY/REPOSITORY[:TAG], e.g. localhost:5000/hello:latest, got \""
                    + ref + "\"");
        }
        Path app = dir.toAbsolutePath().normalize();
        PackCommand.requireApp(app);
        PrintWriter progress = quiet ? new PrintWriter(java.io.Writer.nullWriter()) : out;
        BuildCommand.Result build = BuildCommand.buildIfStale(app, progress);
        Path layout = OciPacker.layoutPath(app.resolve("dist"), build.manifest().name());
        String bundleSha = io.ukernel.app.bundle.Sha256.hex(build.bundle().path());
        if (!bundleSha.equals(packedBundle(layout))) {
            OciPacker.Result r = PackCommand.packOci(app, "latest", OciPacker.DEFAULT_UID, false, quiet ? null : out);
            progress.println(PackCommand.ociSummaryLine(r));
        }
        List<String> cmd = new ArrayList<>(List.of("skopeo", "copy"));
        if (quiet) {
            cmd.add("--quiet");
        }
        if (insecure) {
            cmd.add("--dest-tls-verify=false");
        }
        if (authfile != null) {
            cmd.add("--authfile=" + authfile);
        }
        cmd.add("oci:" + layout + ":latest");
        cmd.add("docker://" + dest);
        progress.println("Pushing " + InitCommand.display(layout) + " to " + dest + " (" + String.join(" ", cmd) + ")");
        progress.flush();
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new UserError("`ukernel push` needs skopeo, which is not installed (Debian/Ubuntu: apt-get install "
                    + "skopeo)");
        }
        p.getOutputStream().close();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        if (!quiet || rc != 0) {
            out.print(text);
        }
        if (rc != 0) {
            throw new UserError("skopeo copy failed (exit " + rc + "); see its output above"
                    + (text.contains("http: server gave HTTP response to HTTPS client") ? " (a plain-HTTP registry: add "
                            + "--insecure)" : ""));
        }
        out.println("Pushed " + build.manifest().name() + " to " + dest);
        out.flush();
        return 0;
    }

    /** The bundle hash the layout's image was packed from, or null. */
    static String packedBundle(Path layout) {
        try {
            Map<String, Object> index = Json.readObject(Files.readString(layout.resolve("index.json")));
            String m = (String) ((Map<?, ?>) ((List<?>) index.get("manifests")).get(0)).get("digest");
            Map<String, Object> manifest = Json.readObject(Files.readString(layout.resolve("blobs/sha256/"
                    + m.substring(7))));
            String c = (String) ((Map<?, ?>) manifest.get("config")).get("digest");
            Map<String, Object> config = Json.readObject(Files.readString(layout.resolve("blobs/sha256/"
                    + c.substring(7))));
            return (String) ((Map<?, ?>) ((Map<?, ?>) config.get("config")).get("Labels")).get("io.ukernel.bundle.sha256");
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
