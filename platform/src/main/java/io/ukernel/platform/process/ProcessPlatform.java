package io.ukernel.platform.process;

import io.ukernel.abi.Abi;
import io.ukernel.platform.spi.Platform;
import io.ukernel.platform.spi.Worker;
import io.ukernel.platform.spi.WorkerListener;
import io.ukernel.platform.spi.WorkerSpec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;

/**
 * Runs each worker as a host {@code python3} process executing the bundle's loader in isolated mode
 * ({@code -I -S}: no site, no user site, no {@code PYTHON*} variables, so no code but the loader's runs before it
 * connects to the kernel). The environment is built from scratch: the app's variables (less the few that act
 * before the loader, {@link #UNSAFE}) plus the ABI endpoint and token, never the kernel's own environment. In
 * strict mode the loader isolates the process (its own mount, pid, ipc, net and uts namespaces with a minimal
 * read-only root, a dedicated uid, python/ukernel/_jail.py) and confines it (Landlock + seccomp) before the app's code
 * runs; this class checks the host can ({@link HostSandbox}), chooses the worker's uid and says so in the banner.
 *
 * <p>With namespaces the process the kernel started (P) forks the worker proper (C, PID 1 of its pid namespace)
 * and only supervises it: {@link Worker#pid()} is P, {@link Worker#terminate()} reaches C through P, and
 * {@link Worker#kill()} SIGKILLs C (which takes every process of its namespace with it) before P.
 */
public final class ProcessPlatform implements Platform {
    /** Path of the loader script inside an extracted bundle. */
    public static final String BOOT_SCRIPT = "adapter/ukernel/_boot.py";
    /** Tells the loader the sandbox mode: {@code strict} or {@code off}. */
    public static final String ENV_SANDBOX = "UKERNEL_SANDBOX";
    /** Tells the loader the namespaces setting: {@code auto}, {@code on} or {@code off} (strict mode only). */
    public static final String ENV_NAMESPACES = "UKERNEL_NAMESPACES";
    /**
     * {@code notify} when the kernel supervises the sockets a strict worker makes itself (seccomp user notification:
     * it must read the worker's memory and take its descriptors, which needs root); unset otherwise.
     */
    public static final String ENV_SOCKETS = "UKERNEL_SOCKETS";
    /** Tells the loader the uid and gid the worker runs as (see {@link #workerId}). */
    public static final String ENV_WORKER_ID = "UKERNEL_WORKER_ID";
    /**
     * Tells the loader the preopens the worker sees by path: one line each, {@code ro|rw NAME /host/path}
     * (python/ukernel/_loader.py turns them into {@code UKERNEL_PREOPEN_<NAME>}, the jail binds them, Landlock
     * allows them).
     */
    public static final String ENV_PREOPENS = "UKERNEL_PREOPENS";
    /** Tells the loader the size of the task's private tmpfs ({@code limits.tmp_bytes}). */
    public static final String ENV_TMP_BYTES = "UKERNEL_TMP_BYTES";
    /** Tells the loader the programs the task's children may run, one absolute path a line ({@code [caps] subprocess}). */
    public static final String ENV_SUBPROCESS = "UKERNEL_SUBPROCESS";
    /**
     * Where the worker has no mount namespace of its own (the sandbox off, {@code namespaces = "off"}, or a host
     * that refuses them): a private host directory the kernel made for this worker (with {@code home/} and
     * {@code tmp/}), removed when the worker's process ends; HOME and TMPDIR point into it.
     */
    public static final String ENV_SCRATCH = "UKERNEL_SCRATCH";
    /**
     * First worker id. Workers of a root kernel run as {@code WORKER_ID_BASE + (kernel pid mod 2^22) * 512 + n mod
     * 512}: above every common allocation (system and login users below 65536, subordinate ids from 100000,
     * systemd's container range 524288-1879048191), below {@code 2^32 - 1}, distinct between the kernels running at
     * once (distinct pids) and between the last 512 workers a kernel started.
     */
    public static final long WORKER_ID_BASE = 2_000_000_000L;

    /**
     * Variables never passed to a worker whatever the app's environment says: {@code PYTHON*} (isolated mode ignores
     * them anyway) and what the dynamic loader or libc would act on before the loader has confined the process
     * ({@code LD_PRELOAD} would run native code first) — glibc's list of variables unsafe for set-uid programs.
     */
    static final List<String> UNSAFE_PREFIXES = List.of("PYTHON", "LD_");
    static final Set<String> UNSAFE = Set.of("GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES",
            "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS",
            "TMPDIR", "TZDIR");

    /**
     * How workers are confined.
     *
     * @param strict     whether each worker must confine itself (Landlock + seccomp) before running the app's code;
     *                   a host that cannot confine then refuses to start workers
     * @param offReason  when not strict, who turned it off (for the banner), e.g. {@code --insecure-no-sandbox}
     * @param namespaces the manifest's {@code sandbox.namespaces}: {@code auto} (where the host allows), {@code on}
     *                   (required: workers are not started without them) or {@code off}
     */
    public record Sandbox(boolean strict, String offReason, String namespaces) {
        public static Sandbox strictDefault() {
            return new Sandbox(true, null, "auto");
        }

        public static Sandbox off(String reason) {
            return new Sandbox(false, reason, "off");
        }
    }

    private final Path python;
    private final String pythonVersion;
    private final Sandbox sandbox;
    /** The host probe runs while the kernel boots; the banner and the first start wait for it. */
    private final CompletableFuture<HostSandbox> host;
    private final java.util.concurrent.atomic.AtomicLong started = new java.util.concurrent.atomic.AtomicLong();
    /** Forks workers from warm templates (the resident host's), or null: every worker starts cold. */
    private volatile WarmStarts warm;

    /**
     * Starts a worker by forking a warm template of its app (docs/host.md, "Warm templates") instead of a new
     * interpreter. Asked only for a strict sandbox with namespaces (the template's children share its pid
     * namespace, view and confinement, then confine themselves further).
     */
    public interface WarmStarts {
        /**
         * A worker forked for {@code spec}, or null when no template can serve it (the platform then starts one
         * cold; the implementation has said why to {@code listener}, in one line).
         *
         * @param command the cold worker's command line (the template runs the same)
         * @param env     the cold worker's whole environment (the template's, less the token)
         */
        Worker start(WorkerSpec spec, List<String> command, Map<String, String> env, WorkerListener listener);
    }

    /** Forks later workers from {@code warm}'s templates (null: none). */
    public ProcessPlatform warmStarts(WarmStarts warm) {
        this.warm = warm;
        return this;
    }

    /**
     * A platform with the default, strict sandbox.
     *
     * @param python        the real interpreter executable (not a shim)
     * @param pythonVersion its version, for the banner
     */
    public ProcessPlatform(Path python, String pythonVersion) {
        this(python, pythonVersion, Sandbox.strictDefault());
    }

    public ProcessPlatform(Path python, String pythonVersion, Sandbox sandbox) {
        this(python, pythonVersion, sandbox, null);
    }

    /** With {@code host} given, the host is not asked (tests of hosts unlike this one). */
    ProcessPlatform(Path python, String pythonVersion, Sandbox sandbox, HostSandbox host) {
        this.python = python;
        this.pythonVersion = pythonVersion;
        this.sandbox = sandbox;
        this.host = new CompletableFuture<>();
        if (host != null) {
            this.host.complete(host);
        } else {
            Thread.ofVirtual().name("ukernel-host-probe").start(() -> this.host.complete(HostSandbox.probe()));
        }
    }

    /** What the host offers (waits for the probe). */
    public HostSandbox host() {
        return host.join();
    }

    @Override
    public String name() {
        return "process";
    }

    @Override
    public String describe() {
        return "python " + pythonVersion + " (" + python + "), isolated mode -I -S, environment built from scratch";
    }

    @Override
    public boolean confined() {
        return sandbox.strict() && host().canConfine();
    }

    @Override
    public String confinement() {
        HostSandbox h = host();
        if (!sandbox.strict()) {
            return "UNCONFINED: the sandbox is off (" + sandbox.offReason() + "): workers can reach the host's files,"
                    + " network and processes directly, with the kernel's uid" + (h.root() ? " (root)" : "")
                    + " (host offers Landlock ABI " + h.landlockAbi() + ", seccomp " + (h.seccomp() ? "yes" : "no")
                    + ", namespaces " + (h.namespaces() ? "yes" : "no") + ")";
        }
        if (!h.canConfine()) {
            return "strict, but this host cannot confine workers: " + h.missing() + "; workers will not be started"
                    + " (--insecure-no-sandbox or [sandbox] mode = \"off\" runs them unconfined)";
        }
        if (namespacesMissing() != null) {
            return "strict, but " + namespacesMissing() + "; workers will not be started";
        }
        int abi = h.landlockAbi();
        return "strict: " + namespaces(h) + "; " + identity(h) + "; no_new_privs, Landlock ABI " + abi
                + " (read-only runtime and bundle; writes only beneath rw preopens, HOME and TMPDIR" + (abi >= 4 ? ", TCP bind/connect denied" : "")
                + (abi >= 6 ? ", abstract Unix sockets and signals scoped" : ", signals limited by seccomp")
                + "), seccomp allow-list (only the calls CPython needs, argument-checked; everything else refused), "
                + "capabilities dropped; each worker reports what it applied";
    }

    private String namespaces(HostSandbox h) {
        return switch (sandbox.namespaces()) {
            case "off" -> "namespaces off ([sandbox] namespaces = \"off\")";
            default -> h.namespaces()
                    ? "namespaces mount+pid+ipc+net+uts" + (h.root() ? "" : "+user") + " (" + h.namespacesDetail()
                            + "; minimal read-only root: runtime, bundle, preopens, 4 devices, /etc of its own, /tmp and HOME on a"
                            + " private tmpfs, no /proc; killed with the kernel)"
                    : "namespaces none (" + h.namespacesDetail() + ")";
        };
    }

    private static String identity(HostSandbox h) {
        return h.root() ? "workers never root: each runs as its own uid/gid from " + WORKER_ID_BASE
                + ", no supplementary groups, empty capability bounding set"
                : "workers run as the kernel's uid (not root)";
    }

    /** Why {@code namespaces = "on"} cannot be honoured here, or null. */
    private String namespacesMissing() {
        HostSandbox h = host();
        if (!sandbox.namespaces().equals("on") || h.namespaces()) {
            return null;
        }
        return "[sandbox] namespaces = \"on\" and this host allows none: " + h.namespacesDetail()
                + " (run the kernel as root, allow unprivileged user namespaces, or set namespaces = \"auto\")";
    }

    /** The uid/gid of the {@code n}-th worker this kernel starts (see {@link #WORKER_ID_BASE}). */
    static long workerId(long kernelPid, long n) {
        return WORKER_ID_BASE + ((kernelPid & 0x3FFFFF) << 9) + (n & 0x1FF);
    }

    @Override
    public Worker start(WorkerSpec spec, WorkerListener listener) throws IOException {
        if (sandbox.strict() && !host().canConfine()) {
            throw new IOException("this host cannot confine the worker: " + host().missing() + "; in strict "
                    + "mode it is not started (run with --insecure-no-sandbox, or set [sandbox] mode = \"off\" in "
                    + "ukernel.toml, to run it unconfined)");
        }
        if (sandbox.strict() && namespacesMissing() != null) {
            throw new IOException(namespacesMissing());
        }
        ProcessBuilder pb = new ProcessBuilder(command(spec));
        pb.directory(spec.bundleDir().toFile());
        Map<String, String> env = pb.environment();
        env.clear();
        env.putAll(baseEnvironment());
        List<String> dropped = new ArrayList<>();
        spec.env().forEach((k, v) -> {
            if (unsafe(k)) {
                dropped.add(k);
            } else {
                env.put(k, v);
            }
        });
        env.put(Abi.ENV_ENDPOINT, spec.endpoint().toString());
        env.put(Abi.ENV_TOKEN, spec.token());
        env.put("UKERNEL_TASK", spec.taskName());
        // The kernel already resolved the entry from the manifest; passing it spares the loader a TOML parse.
        env.put("UKERNEL_ENTRY", spec.entry());
        env.put("UKERNEL_KERNEL_PID", Long.toString(ProcessHandle.current().pid()));
        env.put(ENV_SANDBOX, sandbox.strict() ? "strict" : "off");
        // Set after the app's variables, so the app's environment cannot choose them.
        env.put(ENV_NAMESPACES, sandbox.strict() ? sandbox.namespaces() : "off");
        long id = workerId(ProcessHandle.current().pid(), started.getAndIncrement());
        env.put(ENV_WORKER_ID, Long.toString(id));
        if (sandbox.strict() && host().root() && spec.sockets()) {  // a task without NET keeps socket() refused
            env.put(ENV_SOCKETS, "notify");
        }
        env.put(ENV_PREOPENS, preopens(spec));
        env.put(ENV_TMP_BYTES, Long.toString(spec.tmpBytes()));
        if (!spec.programs().isEmpty()) {
            env.put(ENV_SUBPROCESS, String.join("\n", spec.programs().stream().map(Path::toString).toList()));
        } else {
            env.remove(ENV_SUBPROCESS);
        }
        Path scratch = needsScratch() ? scratch(spec, sandbox.strict() && host().root() ? id : -1) : null;
        if (scratch != null) {
            env.put(ENV_SCRATCH, scratch.toString());
        }
        if (!dropped.isEmpty()) {
            java.util.Collections.sort(dropped);
            listener.output("ukernel: not passed to the worker: " + String.join(", ", dropped) + " (PYTHON*, LD_* "
                    + "and other loader variables could run code before the sandbox is in place)", true);
        }
        WarmStarts w = warm;
        if (w != null && scratch == null && sandbox.strict() && !sandbox.namespaces().equals("off")) {
            Worker forked = w.start(spec, pb.command(), Map.copyOf(env), listener);
            if (forked != null) {
                return forked;
            }
        }
        Process process;
        try {
            process = pb.start();
        } catch (IOException | RuntimeException e) {
            removeTree(scratch);
            throw e;
        }
        process.getOutputStream().close();
        ProcessWorker worker = new ProcessWorker(process);
        CountDownLatch drained = new CountDownLatch(2);
        pump(process.getInputStream(), false, listener, drained, spec);
        pump(process.getErrorStream(), true, listener, drained, spec);
        // Report the exit only after both pipes are drained, so the last lines precede the exit line.
        process.onExit().thenRun(() -> {
            awaitQuietly(drained);
            removeTree(scratch);
            listener.exited(process.exitValue());
        });
        return worker;
    }

    /** The {@link #ENV_PREOPENS} value: {@code ro|rw NAME /host/path} lines. */
    static String preopens(WorkerSpec spec) throws IOException {
        StringBuilder b = new StringBuilder();
        for (WorkerSpec.Dir d : spec.preopens()) {
            String path = d.path().toAbsolutePath().normalize().toString();
            if (path.indexOf('\n') >= 0 || d.name().indexOf(' ') >= 0) {
                throw new IOException("preopen " + d.name() + ": its path " + path.replace("\n", "\\n")
                        + " contains a newline; move the app to a directory whose path has none");
            }
            b.append(d.writable() ? "rw " : "ro ").append(d.name()).append(' ').append(path).append('\n');
        }
        return b.toString();
    }

    /** Whether a worker may run without a mount namespace of its own, and so needs a host scratch directory. */
    private boolean needsScratch() {
        return !sandbox.strict() || sandbox.namespaces().equals("off") || !host().namespaces();
    }

    /**
     * A private host directory for the worker's HOME and TMPDIR ({@link #ENV_SCRATCH}), mode 0700, owned by
     * {@code owner} when not negative (a root kernel's worker id).
     */
    private static Path scratch(WorkerSpec spec, long owner) throws IOException {
        Path dir = java.nio.file.Files.createTempDirectory("ukernel-task-" + spec.taskId() + "-",
                java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                        java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
        try {
            for (Path p : List.of(dir, java.nio.file.Files.createDirectory(dir.resolve("home")),
                    java.nio.file.Files.createDirectory(dir.resolve("tmp")))) {
                if (owner >= 0) {
                    java.nio.file.Files.setAttribute(p, "unix:uid", (int) owner,
                            java.nio.file.LinkOption.NOFOLLOW_LINKS);
                    java.nio.file.Files.setAttribute(p, "unix:gid", (int) owner,
                            java.nio.file.LinkOption.NOFOLLOW_LINKS);
                }
            }
        } catch (IOException | RuntimeException e) {
            removeTree(dir);
            throw new IOException("cannot prepare the worker's scratch directory " + dir + ": " + e, e);
        }
        return dir;
    }

    /** Removes {@code dir} and everything beneath it (links are removed, never followed); quietly. */
    static void removeTree(Path dir) {
        if (dir == null) {
            return;
        }
        try (var walk = java.nio.file.Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    java.nio.file.Files.deleteIfExists(p);
                } catch (IOException e) {
                    // a file the worker made unremovable (chmod is refused in the sandbox): left behind
                }
            });
        } catch (IOException | java.io.UncheckedIOException e) {
            // already gone
        }
    }

    static boolean unsafe(String name) {
        return UNSAFE.contains(name) || UNSAFE_PREFIXES.stream().anyMatch(name::startsWith);
    }

    private List<String> command(WorkerSpec spec) {
        List<String> cmd = new ArrayList<>();
        cmd.add(python.toString());
        cmd.add("-I");
        cmd.add("-S");
        cmd.add(spec.bundleDir().resolve(BOOT_SCRIPT).toString());
        return cmd;
    }

    private static Map<String, String> baseEnvironment() {
        return Map.of("PATH", "/usr/local/bin:/usr/bin:/bin", "LANG", "C.UTF-8", "LC_ALL", "C.UTF-8");
    }

    private static void pump(InputStream in, boolean stderr, WorkerListener listener, CountDownLatch drained,
            WorkerSpec spec) {
        Thread.ofVirtual().name("task-" + spec.taskId() + (stderr ? "-stderr" : "-stdout")).start(() -> {
            // Lines are bounded (LineSplitter): an endless line must not make the kernel buffer it whole.
            try (in) {
                new LineSplitter(LineSplitter.MAX_LINE_BYTES, line -> listener.output(line, stderr)).pump(in);
            } catch (IOException e) {
                listener.output("ukernel: lost the worker's " + (stderr ? "stderr" : "stdout") + ": " + e, true);
            } finally {
                drained.countDown();
            }
        });
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            // A grandchild holding the pipes open must not hide the worker's exit forever.
            latch.await(2, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private record ProcessWorker(Process process) implements Worker {
        @Override
        public long pid() {
            return process.pid();
        }

        @Override
        public void terminate() {
            // Through the handle, not Process.destroy(): that also closes our ends of the worker's pipes, so
            // everything it prints while shutting down would be lost and its next write would fail (EPIPE).
            process.toHandle().destroy();
        }

        @Override
        public void kill() {
            // C first: the init of the worker's pid namespace, whose end kills every process in it, whatever
            // death signal they set.
            process.children().forEach(ProcessHandle::destroyForcibly);
            process.toHandle().destroyForcibly();
        }

        @Override
        public boolean alive() {
            return process.isAlive();
        }
    }
}
