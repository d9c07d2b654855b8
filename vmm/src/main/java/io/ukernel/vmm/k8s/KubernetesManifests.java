package io.ukernel.vmm.k8s;

import io.ukernel.app.Manifest;
import io.ukernel.vmm.image.OciPacker;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The Kubernetes objects that run an app's OCI image ({@code ukernel pack --oci}): a Deployment for a server (an
 * app that binds ports, or whose restart policy is {@code always}) or a Job for an app that runs to completion, a
 * Service for its ports, TCP probes on the first port, resources sized from {@code [limits]}, the image's user
 * with every privilege dropped and a read-only root (an {@code emptyDir} on {@code /tmp}, where the kernel keeps
 * its ABI socket), and an optional {@code runtimeClassName} ({@code runsc} for gVisor, {@code kata}).
 */
public final class KubernetesManifests {
    /** What a Kubernetes label value and a DNS-1123 name accept (an app's name always fits). */
    private static final String NAME_LABEL = "app.kubernetes.io/name";

    /** Deployment or Job. */
    public enum Kind {
        DEPLOYMENT,
        JOB
    }

    /**
     * What to write.
     *
     * @param manifest     the app's manifest
     * @param image        the image reference the cluster pulls, e.g. {@code registry.example/hello:1}
     * @param kind         Deployment or Job (null: decided from the manifest, {@link #defaultKind})
     * @param replicas     for a Deployment
     * @param ports        container ports (those of the manifest's bind list with a fixed port, plus
     *                     {@code --port})
     * @param env          the workers' environment ({@code env/ukernel.env}), as plain {@code env:} entries
     * @param runtimeClass {@code runsc}, {@code kata}, another handler name, or null
     * @param memory       memory limit, e.g. {@code 512Mi} (null: estimated from {@code [limits] tasks})
     * @param cpu          CPU request, e.g. {@code 250m} (null: {@code 100m})
     * @param uid          the image's user
     */
    public record Inputs(Manifest manifest, String image, Kind kind, int replicas, List<Integer> ports,
            Map<String, String> env, String runtimeClass, String memory, String cpu, int uid) {}

    /**
     * The objects and what the user should know.
     *
     * @param objects  each a YAML document's content
     * @param kind     what was chosen
     * @param warnings e.g. an app that binds only loopback behind a Service
     */
    public record Result(List<Map<String, Object>> objects, Kind kind, List<String> warnings) {
        public String yaml() {
            return Yaml.documents(objects);
        }
    }

    private KubernetesManifests() {}

    /** Deployment when the app binds ports or restarts always; Job when it runs to completion. */
    public static Kind defaultKind(Manifest m, List<Integer> ports) {
        boolean server = !ports.isEmpty() || !m.net().bind().isEmpty();
        return server || m.restart().mode() == Manifest.RestartPolicy.Mode.ALWAYS ? Kind.DEPLOYMENT : Kind.JOB;
    }

    /** The container ports: the manifest's TCP bind entries with a fixed port, then {@code extra}. */
    public static List<Integer> ports(Manifest m, List<Integer> extra) {
        TreeSet<Integer> ports = new TreeSet<>();
        for (String p : OciPacker.exposedPorts(m)) {
            if (p.endsWith("/tcp")) { // the Service and the tcpSocket probes are TCP
                ports.add(Integer.parseInt(p.substring(0, p.indexOf('/'))));
            }
        }
        ports.addAll(extra);
        return List.copyOf(ports);
    }

    /** Memory limit estimate: the kernel's JVM (128 MiB) and 16 MiB per task the limits allow, at most 16. */
    static String memoryEstimate(Manifest m) {
        int tasks = Math.max(1, Math.min(16, m.limits().tasks()));
        return (128 + 16 * tasks) + "Mi";
    }

    public static Result build(Inputs in) {
        Manifest m = in.manifest();
        String name = m.name();
        List<String> warnings = new ArrayList<>();
        Kind kind = in.kind() != null ? in.kind() : defaultKind(m, in.ports());
        Map<String, Object> labels = new LinkedHashMap<>();
        labels.put(NAME_LABEL, name);
        labels.put("app.kubernetes.io/managed-by", "ukernel");

        Map<String, Object> container = new LinkedHashMap<>();
        container.put("name", name);
        container.put("image", in.image());
        container.put("imagePullPolicy", "IfNotPresent");
        if (!in.env().isEmpty()) {
            List<Object> env = new ArrayList<>();
            in.env().forEach((k, v) -> env.add(mapOf("name", k, "value", v)));
            container.put("env", env);
        }
        if (!in.ports().isEmpty()) {
            List<Object> ports = new ArrayList<>();
            for (int p : in.ports()) {
                ports.add(mapOf("name", "tcp-" + p, "containerPort", p, "protocol", "TCP"));
            }
            container.put("ports", ports);
            int first = in.ports().getFirst();
            container.put("readinessProbe", mapOf("tcpSocket", mapOf("port", first), "periodSeconds", 5));
            container.put("livenessProbe", mapOf("tcpSocket", mapOf("port", first), "initialDelaySeconds", 10,
                    "periodSeconds", 10));
            if (!m.net().bind().isEmpty() && m.net().bind().stream().allMatch(b -> b.startsWith("127.")
                    || b.startsWith("localhost:") || b.startsWith("[::1]"))) {
                warnings.add("[caps.net] bind allows only loopback addresses (" + String.join(", ", m.net().bind())
                        + "): the Service and the probes cannot reach the app; allow \"0.0.0.0:PORT\" and bind that");
            }
        }
        String memory = in.memory() != null ? in.memory() : memoryEstimate(m);
        container.put("resources", mapOf(
                "requests", mapOf("cpu", in.cpu() != null ? in.cpu() : "100m", "memory", memory),
                "limits", mapOf("memory", memory)));
        Map<String, Object> caps = mapOf("drop", List.of("ALL"));
        container.put("securityContext", mapOf("allowPrivilegeEscalation", false, "readOnlyRootFilesystem", true,
                "capabilities", caps));
        container.put("volumeMounts", List.of(mapOf("name", "tmp", "mountPath", "/tmp")));

        Map<String, Object> podSpec = new LinkedHashMap<>();
        if (in.runtimeClass() != null) {
            podSpec.put("runtimeClassName", in.runtimeClass());
            if (in.runtimeClass().equals("runsc") && m.sandbox().mode() == Manifest.Sandbox.Mode.STRICT) {
                warnings.add("gVisor (runsc) implements no Landlock: in strict mode the kernel refuses to start "
                        + "there; set [sandbox] mode = \"off\" in ukernel.toml to let gVisor be the sandbox");
            }
        }
        podSpec.put("automountServiceAccountToken", false);
        podSpec.put("securityContext", mapOf("runAsNonRoot", in.uid() != 0, "runAsUser", in.uid(),
                "runAsGroup", in.uid(), "seccompProfile", mapOf("type", "RuntimeDefault")));
        if (kind == Kind.JOB) {
            podSpec.put("restartPolicy", m.restart().mode() == Manifest.RestartPolicy.Mode.NO ? "Never" : "OnFailure");
        }
        podSpec.put("terminationGracePeriodSeconds", 10);
        podSpec.put("containers", List.of(container));
        podSpec.put("volumes", List.of(mapOf("name", "tmp", "emptyDir", mapOf("medium", "Memory",
                "sizeLimit", "64Mi"))));
        Map<String, Object> template = mapOf("metadata", mapOf("labels", labels), "spec", podSpec);

        List<Map<String, Object>> objects = new ArrayList<>();
        if (kind == Kind.DEPLOYMENT) {
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("replicas", in.replicas());
            spec.put("selector", mapOf("matchLabels", mapOf(NAME_LABEL, name)));
            spec.put("template", template);
            objects.add(object("apps/v1", "Deployment", name, labels, spec));
        } else {
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("backoffLimit", m.restart().mode() == Manifest.RestartPolicy.Mode.ON_FAILURE
                    ? m.restart().maxRetries() : 0);
            spec.put("template", template);
            objects.add(object("batch/v1", "Job", name, labels, spec));
        }
        if (!in.ports().isEmpty()) {
            List<Object> ports = new ArrayList<>();
            for (int p : in.ports()) {
                ports.add(mapOf("name", "tcp-" + p, "port", p, "targetPort", p, "protocol", "TCP"));
            }
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("type", "ClusterIP");
            spec.put("selector", mapOf(NAME_LABEL, name));
            spec.put("ports", ports);
            objects.add(object("v1", "Service", name, labels, spec));
            if (kind == Kind.JOB) {
                warnings.add("a Service for a Job: the ports are reachable only while the Job runs");
            }
        }
        return new Result(objects, kind, warnings);
    }

    private static Map<String, Object> object(String apiVersion, String kind, String name, Map<String, Object> labels,
            Map<String, Object> spec) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("apiVersion", apiVersion);
        o.put("kind", kind);
        o.put("metadata", mapOf("name", name, "labels", labels));
        o.put("spec", spec);
        return o;
    }

    private static Map<String, Object> mapOf(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }
}
