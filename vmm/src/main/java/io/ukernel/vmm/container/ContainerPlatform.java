package io.ukernel.vmm.container;

import io.ukernel.platform.process.HostSandbox;
import io.ukernel.platform.process.ProcessPlatform;
import io.ukernel.platform.spi.Platform;
import io.ukernel.platform.spi.Worker;
import io.ukernel.platform.spi.WorkerListener;
import io.ukernel.platform.spi.WorkerSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code container} platform: workers start exactly as on a host — the process platform, the same loader and
 * confinement — inside whatever container runtime runs the image. The banner names the runtime when it can tell
 * (gVisor, Podman, Docker, a Kubernetes pod) and which layers the container allows; when strict mode cannot be
 * honoured it adds what to change in the container's settings.
 */
final class ContainerPlatform implements Platform {
    /** gVisor's Sentry reports this fixed version line in {@code /proc/version}. */
    static final String GVISOR_VERSION_MARK = "#1 SMP Sun Jan 10 15:06:54 PST 2016";

    private final ProcessPlatform processes;
    private final String where;
    private final String runtime;

    ContainerPlatform(ProcessPlatform processes, String where, String runtime) {
        this.processes = processes;
        this.where = where;
        this.runtime = runtime;
    }

    @Override
    public String name() {
        return "container";
    }

    @Override
    public String describe() {
        return "OCI container (" + runtime + "; " + where + "); workers: " + processes.describe();
    }

    @Override
    public String confinement() {
        String c = processes.confinement();
        String fix = fix(processes.host(), runtime);
        return fix == null ? c : c + ". " + fix;
    }

    @Override
    public boolean confined() {
        return processes.confined();
    }

    @Override
    public Worker start(WorkerSpec spec, WorkerListener listener) throws IOException {
        return processes.start(spec, listener);
    }

    /**
     * What to change in the container's settings so strict mode can confine workers, or null when nothing is
     * missing. The facts behind it are in docs/deploy.md.
     */
    static String fix(HostSandbox h, String runtime) {
        List<String> fixes = new ArrayList<>();
        if (h.landlockAbi() < 1) {
            fixes.add(runtime.startsWith("gVisor")
                    ? "gVisor implements no Landlock: there, set [sandbox] mode = \"off\" in ukernel.toml and let gVisor"
                            + " be the sandbox, or run the image under runc or Kata on Linux >= 5.13"
                    : "the node's kernel offers no Landlock: run on Linux >= 5.13 with landlock in its LSMs (lsm= boot"
                            + " parameter), or set [sandbox] mode = \"off\"");
        }
        if (!h.seccomp()) {
            fixes.add("seccomp filters are refused: use the runtime's default seccomp profile (Docker's and "
                    + "containerd's allow seccomp(2) under no_new_privs) rather than one that denies seccomp itself");
        }
        if (fixes.isEmpty()) {
            return null;
        }
        return "To change: " + String.join("; ", fixes);
    }

    /** Which runtime this looks like, from what each leaves in the container. */
    static String detectRuntime(Path root, java.util.Map<String, String> env) {
        List<String> marks = new ArrayList<>();
        String version = read(root.resolve("proc/version"));
        if (version != null && version.contains(GVISOR_VERSION_MARK)) {
            marks.add("gVisor (runsc)");
        } else if (Files.exists(root.resolve("run/.containerenv"))) {
            marks.add("Podman");
        } else if (Files.exists(root.resolve(".dockerenv"))) {
            marks.add("Docker");
        }
        if (env.containsKey("KUBERNETES_SERVICE_HOST")) {
            marks.add("Kubernetes pod");
        }
        return marks.isEmpty() ? "runtime not identified (runc, crun, containerd or Kata)" : String.join(", ", marks);
    }

    private static String read(Path p) {
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
