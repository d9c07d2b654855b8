package io.ukernel.cli;

import io.ukernel.kernel.Kernel;
import io.ukernel.kernel.KernelClock;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.LineFormat;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The resident host's core: many apps in one JVM, each its own {@link Kernel} (its own reactor thread, policy,
 * console and instance log, assembled by {@link AppLaunch} as {@code ukernel run} does), by name. A worker that
 * crashes is the app's kernel's business (restarted by the manifest's {@code [restart]} policy); an app whose
 * kernel ended stays listed as {@code exited (N)} until removed (or at once with {@code --rm}).
 *
 * <p>Thread-safety: the map of apps is guarded by {@code this}; an app's fields are volatile, written by the
 * request thread that starts it and the app's own thread when it ends.
 */
final class Host {
    /** Overrides ~/.ukernel (the host's socket, lock and log; and run/ unless UKERNEL_RUN_DIR says otherwise). */
    static final String ENV_HOME = "UKERNEL_HOME";
    /** What docker allows in a container name. */
    static final Pattern NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}");

    /** What a client asks for (POST /apps). */
    record RunRequest(String dir, String name, Map<String, String> env, boolean rm, boolean insecureNoSandbox,
            double graceSeconds, boolean debug) {}

    /** One app the host runs or ran. */
    final class App {
        final String name;
        final RunRequest request;
        final AppLaunch.Prepared prepared;
        volatile Kernel kernel;
        volatile InstanceLog log;
        volatile Thread thread;
        volatile Instant started;
        volatile Instant ended;
        volatile int exitStatus = -1;
        /** Restarts before this instance: earlier instances' task restarts plus each {@code ukernel restart}. */
        volatile int manualRestarts;
        volatile boolean stopping;

        App(String name, RunRequest request, AppLaunch.Prepared prepared) {
            this.name = name;
            this.request = request;
            this.prepared = prepared;
        }

        boolean running() {
            Thread t = thread;
            return t != null && t.isAlive();
        }

        /** Boots a new instance of the app's kernel on its own thread. */
        synchronized void boot() throws IOException {
            KernelClock clock = KernelClock.system();
            InstanceLog il = InstanceLog.create(prepared.app(), name, clock.wallNs() / 1_000_000);
            Console console = Console.toStream(clock, LineFormat.TEXT, null, il.stream(), request.debug());
            Kernel k;
            try {
                k = AppLaunch.kernel(prepared, request.env(), console, clock, request.graceSeconds(),
                        request.insecureNoSandbox(), templates);
            } catch (IOException | RuntimeException e) {
                console.close();
                il.close();
                throw e;
            }
            kernel = k;
            log = il;
            started = Instant.now();
            ended = null;
            exitStatus = -1;
            stopping = false;
            Thread t = new Thread(() -> {
                int status = 70;
                try {
                    status = k.run();
                } finally {
                    try {
                        console.close();
                        il.close();
                    } catch (IOException ignored) {
                        // the log's last lines were flushed per line
                    }
                    exitStatus = status;
                    ended = Instant.now();
                    ended(this);
                }
            }, "app-" + name);
            thread = t;
            t.start();
        }

        /** Asks the kernel to stop and waits up to {@code timeoutMs} for it to end; whether it ended. */
        boolean stop(long timeoutMs) throws InterruptedException {
            Thread t = thread;
            Kernel k = kernel;
            if (t == null || !t.isAlive()) {
                return true;
            }
            stopping = true;
            k.stop("stopped by the host (ukernel stop)");
            t.join(Math.max(1, timeoutMs));
            if (t.isAlive()) {
                k.stopNow("not stopped after " + timeoutMs + " ms");
                t.join(Math.max(1, timeoutMs));
            }
            return !t.isAlive();
        }

        /** {@code running}, {@code restarting} (a task waits to be restarted), or {@code exited (N)}. */
        String status() {
            if (!running()) {
                return "exited (" + exitStatus + ")";
            }
            for (Kernel.TaskInfo t : tasks()) {
                if (!t.spawned() && t.restarts() > 0 && t.state().equals("starting")) {
                    return "restarting";
                }
            }
            return "running";
        }

        List<Kernel.TaskInfo> tasks() {
            Kernel k = kernel;
            return k == null ? List.of() : k.tasks(1000);
        }

        /** Restarts of the app's tasks by its kernels, plus starts by {@code ukernel restart}, over its instances. */
        int restarts() {
            int n = manualRestarts;
            for (Kernel.TaskInfo t : tasks()) {
                n += t.restarts();
            }
            return n;
        }
    }

    private final Map<String, App> apps = new LinkedHashMap<>();
    /** Warm templates shared by the apps' kernels (instances and restarts fork from them), or null when off. */
    final Templates templates = templates();
    private final Instant started = Instant.now();
    private volatile boolean shuttingDown;

    static Path home() {
        String env = System.getenv(ENV_HOME);
        return env != null && !env.isBlank() ? Path.of(env).toAbsolutePath()
                : Path.of(System.getProperty("user.home"), ".ukernel");
    }

    static Path socket() {
        return home().resolve("host.sock");
    }

    Instant started() {
        return started;
    }

    /** Starts an app; its build output (if it was rebuilt) is returned with the error when preparing fails. */
    App run(RunRequest r) throws UserError {
        if (shuttingDown) {
            throw new UserError("the host is stopping");
        }
        if (!r.name().isEmpty() && !NAME.matcher(r.name()).matches()) {
            throw new UserError("--name must be letters, digits, '_', '.' or '-' (starting with a letter or digit), "
                    + "at most 63 characters, got \"" + r.name() + "\"");
        }
        synchronized (this) {
            App existing = r.name().isEmpty() ? null : apps.get(r.name());
            if (existing != null) {
                throw new UserError("the name " + r.name() + " is taken by a " + (existing.running() ? "running"
                        : "stopped") + " app: choose another --name, or `ukernel rm -f " + r.name() + "` first");
            }
        }
        StringWriter progress = new StringWriter();
        AppLaunch.Prepared p;
        try {
            p = AppLaunch.prepare(Path.of(r.dir()), new PrintWriter(progress, true));
        } catch (UserError | io.ukernel.app.ManifestException e) {
            throw new UserError(e.getMessage());
        } catch (Exception e) {
            throw new UserError("cannot prepare " + r.dir() + ": " + e.getMessage()
                    + (progress.toString().isBlank() ? "" : "\n" + progress));
        }
        App app;
        synchronized (this) {
            String name = r.name().isEmpty() ? freeName(p.manifest().name()) : r.name();
            if (apps.containsKey(name)) {
                throw new UserError("the name " + name + " is taken: choose another --name");
            }
            app = new App(name, r, p);
            apps.put(name, app);
        }
        try {
            app.boot();
        } catch (IOException | RuntimeException e) {
            synchronized (this) {
                apps.remove(app.name);
            }
            throw new UserError("cannot start " + app.name + ": " + e.getMessage());
        }
        return app;
    }

    private String freeName(String base) {
        String b = NAME.matcher(base).matches() ? base : "app";
        if (!apps.containsKey(b)) {
            return b;
        }
        for (int i = 2; ; i++) {
            if (!apps.containsKey(b + "-" + i)) {
                return b + "-" + i;
            }
        }
    }

    private void ended(App app) {
        if (app.request.rm()) {
            synchronized (this) {
                apps.remove(app.name, app);
            }
        }
    }

    synchronized List<App> apps() {
        return new ArrayList<>(apps.values());
    }

    synchronized App get(String name) {
        return apps.get(name);
    }

    /** Stops and boots an app again, with the same request; its build is redone when a source changed. */
    App restart(String name, long timeoutMs) throws UserError, InterruptedException {
        App app = get(name);
        if (app == null) {
            throw new UserError("no app named " + name);
        }
        if (!app.stop(timeoutMs)) {
            throw new UserError(name + " did not stop within " + timeoutMs + " ms");
        }
        synchronized (this) {
            apps.remove(name, app);
        }
        App fresh = run(app.request.name().isEmpty() ? withName(app.request, name) : app.request);
        fresh.manualRestarts = app.restarts() + 1;    // the old instance's count goes on (docker's RestartCount)
        return fresh;
    }

    private static RunRequest withName(RunRequest r, String name) {
        return new RunRequest(r.dir(), name, r.env(), r.rm(), r.insecureNoSandbox(), r.graceSeconds(), r.debug());
    }

    /** Forgets an app; a running one only with {@code force} (it is stopped first). */
    void remove(String name, boolean force, long timeoutMs) throws UserError, InterruptedException {
        App app = get(name);
        if (app == null) {
            throw new UserError("no app named " + name);
        }
        if (app.running()) {
            if (!force) {
                throw new UserError(name + " is running: `ukernel stop " + name + "` first, or rm -f");
            }
            app.stop(timeoutMs);
        }
        synchronized (this) {
            apps.remove(name, app);
        }
    }

    /** Stops every app (in parallel: each gets its grace period at once) and refuses new ones. */
    void stopAll(long timeoutMs) throws InterruptedException {
        shuttingDown = true;
        List<App> all = apps();
        for (App a : all) {
            Kernel k = a.kernel;
            if (a.running() && k != null) {
                a.stopping = true;
                k.stop("the host is stopping");
            }
        }
        for (App a : all) {
            a.stop(timeoutMs);
        }
        if (templates != null) {
            templates.close();
        }
    }

    /** Environment variable that turns warm templates off: every worker starts cold (bench/host.sh compares). */
    static final String ENV_NO_TEMPLATES = "UKERNEL_NO_TEMPLATES";

    private static Templates templates() {
        String off = System.getenv(ENV_NO_TEMPLATES);
        if (off != null && !off.isEmpty() && !off.equals("0")) {
            return null;
        }
        try {
            return new Templates(home().resolve("templates"));
        } catch (IOException e) {
            System.err.println("ukernel host: warm templates off: cannot make " + home().resolve("templates") + ": "
                    + e.getMessage());
            return null;
        }
    }

    boolean shuttingDown() {
        return shuttingDown;
    }

    /** Most processes of one task's tree {@link #procUsage} reads (a worker is held to 1024 by RLIMIT_NPROC). */
    private static final int MAX_TREE = 4096;

    /**
     * CPU milliseconds and resident bytes of a task's worker: the process the kernel started and every process
     * beneath it (the worker in its pid namespace, the children a task with {@code [caps] subprocess} runs), from
     * /proc; zeros when it is gone. Shared pages count once per process, as {@code ps} does.
     */
    static long[] procUsage(long pid) {
        long[] sum = {0, 0};
        java.util.ArrayDeque<Long> todo = new java.util.ArrayDeque<>();
        java.util.Set<Long> seen = new java.util.HashSet<>();
        todo.add(pid);
        while (!todo.isEmpty() && seen.size() < MAX_TREE) {
            long p = todo.poll();
            if (p <= 0 || !seen.add(p)) {
                continue;
            }
            long[] one = procUsageOne(p);
            sum[0] += one[0];
            sum[1] += one[1];
            try (java.util.stream.Stream<Path> threads = Files.list(Path.of("/proc", Long.toString(p), "task"))) {
                for (Path t : threads.toList()) {
                    try {
                        for (String c : Files.readString(t.resolve("children")).trim().split(" ")) {
                            if (!c.isEmpty()) {
                                todo.add(Long.parseLong(c));
                            }
                        }
                    } catch (IOException | RuntimeException e) {
                        // the thread ended meanwhile
                    }
                }
            } catch (IOException | RuntimeException e) {
                // the process ended meanwhile
            }
        }
        return sum;
    }

    /** CPU milliseconds and resident bytes of one live process, from /proc (zeros when it is gone). */
    static long[] procUsageOne(long pid) {
        if (pid <= 0) {
            return new long[] {0, 0};
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);   // utime + stime (fields 14, 15)
            String[] statm = Files.readString(Path.of("/proc", Long.toString(pid), "statm")).trim().split(" ");
            long rss = Long.parseLong(statm[1]) * PAGE;
            return new long[] {ticks * 1000 / CLK_TCK, rss};
        } catch (IOException | RuntimeException e) {
            return new long[] {0, 0};
        }
    }

    /** The kernel's USER_HZ, fixed at 100 on Linux for everything /proc reports in ticks. */
    static final long CLK_TCK = 100;
    /** x86-64 and arm64 (4 KiB configurations) page size, as statm counts pages. */
    static final long PAGE = 4096;
}
