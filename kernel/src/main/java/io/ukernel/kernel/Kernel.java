package io.ukernel.kernel;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Frame;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.policy.Policy.RestartPolicy;
import io.ukernel.kernel.caps.CapabilitySet;
import io.ukernel.kernel.calls.CallTable;
import io.ukernel.kernel.calls.Dispatcher;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.Level;
import io.ukernel.kernel.transport.Connection;
import io.ukernel.kernel.transport.Endpoint;
import io.ukernel.kernel.transport.Session;
import io.ukernel.platform.spi.Worker;
import io.ukernel.platform.spi.WorkerListener;
import io.ukernel.platform.spi.WorkerSpec;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import io.ukernel.kernel.handle.KernelObject;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The kernel: boots, prints its banner, starts the app's tasks on the platform, serves their ABI calls on one
 * reactor thread, applies restart policies, and ends when the main task ends (or on {@link #stop}), with the
 * main task's exit status. Everything but {@link #stop} and the workers' output runs on the reactor thread.
 */
public final class Kernel implements Session, TaskControl {
    /** Name of the task started from the policy's main {@code entry}. */
    public static final String MAIN_TASK = "main";
    /** The variable that gives a spawned task the numbers of the handles it was given, comma-separated, in order. */
    public static final String ENV_HANDLES = io.ukernel.abi.Abi.ENV_HANDLES;
    /** The loader's exit status when strict confinement failed (python/ukernel/_loader.py EXIT_UNCONFINED). */
    public static final int EXIT_UNCONFINED = 71;

    private final KernelConfig config;
    private final Console console;
    private final Reactor reactor;
    private final TaskTable tasks;
    private final Dispatcher dispatcher;
    private final Map<Task, Connection> connections = new HashMap<>();
    private final CompletableFuture<Integer> done = new CompletableFuture<>();
    /** The one structure read off the reactor thread: by the shutdown hook. */
    private final java.util.Set<Worker> liveWorkers = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private Endpoint endpoint;
    private Task main;
    private String stopReason;
    private Reactor.Timer killTimer;
    private final KernelMetrics metrics = new KernelMetrics();
    /** The tasks as they were when the kernel ended (read by {@link #tasks()} once the reactor is gone). */
    private volatile List<TaskInfo> finalTasks;

    /**
     * One task as a supervisor sees it.
     *
     * @param id         the task id
     * @param name       its name
     * @param state      {@code starting}, {@code running} or {@code exited}
     * @param pid        its worker's pid, or -1
     * @param restarts   how often the kernel restarted it
     * @param exitStatus its last exit status, or -1
     * @param spawned    whether another task spawned it
     */
    public record TaskInfo(int id, String name, String state, long pid, int restarts, int exitStatus,
            boolean spawned) {}

    public Kernel(KernelConfig config) throws IOException {
        this.config = config;
        this.console = config.console();
        this.reactor = new Reactor(this::bug);
        this.tasks = new TaskTable(config.policy().limits().tasks());
        KernelContext ctx = new KernelContext(console, config.clock(), reactor, config.policy(), this,
                config.appDir());
        this.dispatcher = new Dispatcher(CallTable.v1(ctx), console, metrics);
    }

    /** Boots and runs the kernel on the calling thread; returns the app's exit status. */
    public int run() {
        // Last line of defence against orphans: whatever ends this JVM (an uncaught error, System.exit) kills
        // the workers still alive. PR_SET_PDEATHSIG in the loader covers SIGKILL of the JVM itself.
        Thread reaper = new Thread(() -> liveWorkers.forEach(Worker::kill), "ukernel-reaper");
        Runtime.getRuntime().addShutdownHook(reaper);
        reactor.execute(this::boot);
        reactor.run();
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook runs anyway
        }
        if (endpoint != null) {
            endpoint.close();
        }
        return done.getNow(70);
    }

    /** The kernel's counters (calls by family, denials, connections, bytes) per task name. */
    public KernelMetrics metrics() {
        return metrics;
    }

    /**
     * The tasks now, read on the reactor thread. Safe from any thread; waits at most {@code timeoutMs} for the
     * reactor and answers with the last known table when it is gone (the kernel ended) or busy.
     */
    public List<TaskInfo> tasks(long timeoutMs) {
        List<TaskInfo> last = finalTasks;
        if (last != null) {
            return last;
        }
        CompletableFuture<List<TaskInfo>> f = new CompletableFuture<>();
        reactor.execute(() -> f.complete(taskInfos()));
        try {
            return f.get(timeoutMs, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // fall through
        }
        last = finalTasks;
        return last != null ? last : List.of();
    }

    private List<TaskInfo> taskInfos() {
        List<TaskInfo> out = new java.util.ArrayList<>();
        for (Task t : tasks.all()) {
            out.add(new TaskInfo(t.id(), t.name(), t.state().name().toLowerCase(Locale.ROOT),
                    t.worker() != null && t.state() != Task.State.EXITED ? t.worker().pid() : -1, t.restarts(),
                    t.exitStatus(), t.parent() != null));
        }
        out.sort(java.util.Comparator.comparingInt(TaskInfo::id));
        return List.copyOf(out);
    }

    /** Asks the kernel to stop every task and end. Safe from any thread (signal handlers). */
    public void stop(String reason) {
        reactor.execute(() -> beginStop(reason));
    }

    /** Kills every worker at once (a second Ctrl-C). Safe from any thread. */
    public void stopNow(String reason) {
        reactor.execute(() -> {
            beginStop(reason);
            killStragglers();
        });
    }

    private void boot() {
        Policy m = config.policy();
        console.kernel(Level.INFO, "ukernel " + Version.UKERNEL + " · ABI " + Abi.formatVersion(Abi.VERSION)
                + " · platform " + config.platform().name() + " · java " + Runtime.version().feature()
                + " · pid " + ProcessHandle.current().pid());
        console.kernel(Level.INFO, "runtime: " + config.platform().describe());
        boolean confined = config.platform().confined();
        console.event("kernel", 0, confined ? Level.INFO : Level.WARN, "sandbox", "confinement: "
                + config.platform().confinement());
        console.kernel(Level.INFO, "app " + m.name() + ": entry " + m.entry() + ", python >= " + m.python()
                + ", restart " + describe(m.restart()));
        console.event("kernel", 0, Level.INFO, "policy", "policy: grant " + Cap.format(m.caps())
                + " · net.connect " + m.net().connect() + " · net.bind " + m.net().bind()
                + " · io " + m.preopens().keySet()
                + (m.programs().listed().isEmpty() ? "" : " · subprocess " + m.programs().listed())
                + " · limits tasks=" + m.limits().tasks()
                + " handles=" + m.limits().handles() + " channel_bytes=" + m.limits().channelBytes()
                + " socket_bytes=" + m.limits().socketBytes() + " queued_bytes=" + m.limits().queuedBytes()
                + " net_bytes=" + m.limits().netBytes() + " tmp_bytes=" + m.limits().tmpBytes());
        try {
            endpoint = Endpoint.open(reactor, this);
        } catch (IOException e) {
            console.kernel(Level.ERROR, "cannot open the ABI endpoint: " + e.getMessage());
            finish(70);
            return;
        }
        reportSuppressedLines();
        main = tasks.create(MAIN_TASK, m.entry(), m.restart(), new CapabilitySet(m.caps()),
                m.limits()).orElseThrow();
        start(main);
        for (Policy.TaskSpec spec : m.tasks()) {
            if (spec.atBoot()) {
                startDeclared(spec);
            }
        }
    }

    /** Every second, the counts of console lines dropped by the rate limits (a flood that fell silent too). */
    private void reportSuppressedLines() {
        console.reportSuppressed(false);
        reactor.schedule(1_000_000_000L, this::reportSuppressedLines);
    }

    private void startDeclared(Policy.TaskSpec spec) {
        CapabilitySet ceiling = new CapabilitySet(spec.caps() & config.policy().caps());
        Optional<Task> t = tasks.create(spec.name(), spec.entry(), spec.restart(), ceiling,
                config.policy().limits());
        if (t.isEmpty()) {
            console.kernel(Level.ERROR, "task " + spec.name() + " not started: limits.tasks="
                    + config.policy().limits().tasks() + " reached");
            return;
        }
        start(t.get());
    }

    private void start(Task task) {
        start(task, Map.of());
    }

    private void start(Task task, Map<String, String> kernelEnv) {
        Map<String, String> env = config.env();
        if (!kernelEnv.isEmpty()) {
            env = new HashMap<>(env);
            env.putAll(kernelEnv);
        }
        Policy m = config.policy();
        task.state(Task.State.STARTING);
        try {
            List<WorkerSpec.Dir> preopens = new java.util.ArrayList<>();
            for (Policy.Preopen p : m.preopens().values()) {
                // Resolved (and refused if a link leads into logs/, build/... or out of the app) at every start.
                preopens.add(new WorkerSpec.Dir(p.name(), p.resolve(config.appDir()), p.writable()));
            }
            preopens.sort(java.util.Comparator.comparing(WorkerSpec.Dir::name));
            // Names are looked up on the kernel's PATH at every start, as preopens are resolved.
            String path = System.getenv("PATH");
            List<java.nio.file.Path> programs = m.programs().resolve(path == null || path.isEmpty()
                    ? "/usr/local/bin:/usr/bin:/bin" : path);
            WorkerSpec spec = new WorkerSpec(task.id(), task.name(), task.entry(), config.bundleDir(), endpoint.path(),
                    task.token(), env, List.copyOf(preopens), m.limits().tmpBytes(), programs,
                    task.caps().ceiling().has(Cap.NET));
            Worker w = config.platform().start(spec, listener(task));
            task.started(w, config.clock().monotonicNs());
            liveWorkers.add(w);
            console.event(task.name(), task.id(), Level.INFO, "task.start", "task " + task.label() + " started: pid "
                    + w.pid() + ", entry " + task.entry() + ", ceiling " + task.caps().ceiling()
                    + (task.restarts() > 0 ? ", restart " + task.restarts() : ""));
        } catch (IOException e) {
            console.event(task.name(), task.id(), Level.ERROR, "task.start", "task " + task.label()
                    + " could not start: " + e.getMessage());
            exited(task, 127);
        }
    }

    /**
     * What the kernel hears from a worker's process. Its stdout and stderr lines are the worker's own output: they
     * are shown with the task's prefix, rate-limited, and never become events — with one exception the kernel can
     * vouch for: the loader's confinement report, which is the first line of stdout, written before the app's
     * code is imported ({@link Abi#REPORT_CONFINED}). A strict worker that exits with
     * {@link #EXIT_UNCONFINED} before that report is one whose confinement failed ({@code sandbox.failed}):
     * the kernel knows it from the exit status and the missing report, not from anything the worker wrote.
     */
    private WorkerListener listener(Task task) {
        return new WorkerListener() {
            /** Set by the stdout pump thread, read by the reactor when the worker exits. */
            private volatile boolean firstOut = true;
            private volatile boolean reported;

            @Override
            public void output(String line, boolean stderr) {
                String event = null;
                if (!stderr && firstOut) {
                    firstOut = false;
                    event = line.startsWith(Abi.REPORT_CONFINED) ? "sandbox.applied"
                            : line.startsWith(Abi.REPORT_UNCONFINED) ? "sandbox.off" : null;
                    reported = event != null;
                }
                console.output(task.name(), task.id(), stderr ? Level.ERR : Level.OUT, event, line);
            }

            @Override
            public void exited(int status) {
                boolean confinementFailed = status == EXIT_UNCONFINED && !reported && config.platform().confined();
                reactor.execute(() -> {
                    if (confinementFailed) {
                        console.event(task.name(), task.id(), Level.ERROR, "sandbox.failed", "task " + task.label()
                                + " could not be confined (exit status " + EXIT_UNCONFINED + " before its "
                                + "confinement report): the app's code did not run; its stderr says why");
                    }
                    Kernel.this.exited(task, status);
                });
            }
        };
    }

    @Override
    public Optional<Policy.TaskSpec> declared(String name) {
        return config.policy().task(name);
    }

    @Override
    public Optional<Task> spawn(Task parent, Policy.TaskSpec spec, CapabilitySet ceiling,
            List<KernelObject> handles) {
        if (stopReason != null) {
            return Optional.empty();
        }
        // Spawned tasks are the parent's business: the kernel does not restart them (the parent sees the exit).
        Optional<Task> t = tasks.create(spec.name(), spec.entry(), RestartPolicy.never(), ceiling,
                config.policy().limits());
        t.ifPresent(child -> {
            child.parent(parent);
            // Its console lines count against the parent's budget: spawning is no way to a fresh one.
            console.share(child.id(), parent.id(), parent.name());
            // Handle numbers are random (HandleTable): the child learns its initial ones from UKERNEL_HANDLES.
            StringBuilder numbers = new StringBuilder();
            handles.forEach(h -> numbers.append(numbers.isEmpty() ? "" : ",")
                    .append(child.handles().install(h).orElseThrow()));
            console.event(parent.name(), parent.id(), Level.INFO, "task.spawn", "spawned task " + child.label()
                    + " (entry " + spec.entry() + ", ceiling " + ceiling + ", " + handles.size() + " handle(s))");
            start(child, Map.of(ENV_HANDLES, numbers.toString()));
        });
        return t;
    }

    @Override
    public Optional<Task> attach(String token, Connection connection) {
        Optional<Task> t = tasks.redeem(token).filter(x -> x.state() == Task.State.STARTING);
        t.ifPresent(task -> {
            task.state(Task.State.RUNNING);
            connections.put(task, connection);
            task.replies(connection::replyNow);
            long ms = (config.clock().monotonicNs() - task.startedNs()) / 1_000_000;
            console.event(task.name(), task.id(), Level.DEBUG, "task.attach", "connected to the kernel " + ms
                    + " ms after start");
        });
        if (t.isEmpty()) {
            console.event("kernel", 0, Level.WARN, "abi.reject", "rejected a connection: hello without a valid token");
        }
        return t;
    }

    @Override
    public Frame.Reply dispatch(Task task, Frame.Request request) {
        return dispatcher.dispatch(task, request);
    }

    @Override
    public void stalled(Task task, int pendingBytes) {
        console.audit(task.name(), task.id(), Level.WARN, "abi.stalled", "not reading its replies: " + pendingBytes
                + " bytes wait to be written, so the kernel serves this task's further requests only once they"
                + " drain (at most " + Connection.REPLY_BACKLOG / 1024 + " KiB of replies are held per task)");
    }

    @Override
    public void detached(Task task, Connection connection, String reason, boolean protocolError) {
        if (task == null) {
            if (protocolError) {
                console.event("kernel", 0, Level.WARN, "abi.reject", "closed a connection before hello: " + reason);
            }
            return;
        }
        if (connections.remove(task, connection)) {
            task.replies(null);
            task.cancelParked();
            task.dropGrants();
        }
        if (protocolError) {
            console.event(task.name(), task.id(), Level.WARN, "abi.disconnect", "disconnected from the kernel: "
                    + reason);
        }
    }

    private void exited(Task task, int status) {
        if (task.state() == Task.State.EXITED) {
            return;
        }
        task.state(Task.State.EXITED);
        task.exitStatus(status);
        if (task.worker() != null) {
            liveWorkers.remove(task.worker());
        }
        task.cancelParked();
        task.replies(null);
        task.dropGrants();
        task.handles().closeAll();
        Connection c = connections.remove(task);
        if (c != null) {
            c.close("the worker exited", false);
        }
        console.reportSuppressed(task.id());
        double secs = (config.clock().monotonicNs() - task.startedNs()) / 1e9;
        console.event(task.name(), task.id(), status == 0 ? Level.INFO : Level.WARN, "task.exit", "task "
                + task.label() + " exited with status " + status + describeStatus(status)
                + String.format(Locale.ROOT, " after %.2f s", secs));
        if (stopReason == null && restartIfDue(task, status)) {
            return;
        }
        if (task.parent() != null) {
            // What the ended child sent and nobody received yet stays charged: to its parent from now on, so a
            // parent cannot multiply its budget by spawning children that fill queues and exit.
            task.handles().account().forwardTo(task.parent().handles().account());
        }
        console.forget(task.id());
        task.notifyExit();
        if (task.parent() != null) {
            tasks.forget(task); // spawned tasks never restart: nothing is left to do with it here
        }
        if (task == main && stopReason == null) {
            beginStop("the main task ended");
        }
        if (stopReason != null && tasks.liveCount() == 0) {
            finish(main.exitStatus());
        }
    }

    private boolean restartIfDue(Task task, int status) {
        RestartPolicy p = task.restart();
        boolean due = switch (p.mode()) {
            case NO -> false;
            case ON_FAILURE -> status != 0 && task.restarts() < p.maxRetries();
            case ALWAYS -> true;
        };
        if (!due) {
            if (p.mode() == RestartPolicy.Mode.ON_FAILURE && status != 0) {
                console.event(task.name(), task.id(), Level.ERROR, "task.giveup", "task " + task.label()
                        + " failed " + (task.restarts() + 1) + " times; giving up (restart.max_retries="
                        + p.maxRetries() + ")");
            }
            return false;
        }
        long delayMs = Math.min(p.backoffMaxMs(), p.backoffMs() << Math.min(task.restarts(), 30));
        console.event(task.name(), task.id(), Level.INFO, "task.restart", "task " + task.label() + " restarts in "
                + delayMs + " ms (policy " + p.mode().text() + ", restart " + (task.restarts() + 1) + ")");
        reactor.schedule(delayMs * 1_000_000, () -> {
            if (stopReason == null) {
                task.restarted(new CapabilitySet(task.caps().initialCeiling()));
                tasks.renewToken(task);
                start(task);
            } else if (tasks.liveCount() == 0) {
                finish(main.exitStatus());
            }
        });
        task.state(Task.State.STARTING);
        return true;
    }

    private void beginStop(String reason) {
        if (stopReason != null) {
            return;
        }
        stopReason = reason;
        long live = tasks.liveCount();
        if (live == 0 || main == null) {
            finish(main == null ? 70 : main.exitStatus());
            return;
        }
        console.kernel(Level.INFO, "stopping: " + reason + "; " + live + " task(s) still running get SIGTERM, "
                + "then SIGKILL after " + config.graceNs() / 1_000_000 + " ms");
        for (Task t : tasks.all()) {
            if (t.state() != Task.State.EXITED) {
                if (t.worker() != null && t.worker().alive()) {
                    t.worker().terminate();
                } else {
                    exited(t, t.exitStatus() >= 0 ? t.exitStatus() : 143);
                }
            }
        }
        killTimer = reactor.schedule(config.graceNs(), this::killStragglers);
    }

    private void killStragglers() {
        for (Task t : tasks.all()) {
            if (t.state() != Task.State.EXITED && t.worker() != null && t.worker().alive()) {
                console.event(t.name(), t.id(), Level.WARN, "task.kill", "task " + t.label()
                        + " ignored SIGTERM; sending SIGKILL");
                t.worker().kill();
            }
        }
    }

    private void finish(int status) {
        if (done.isDone()) {
            return;
        }
        if (killTimer != null) {
            killTimer.cancel();
        }
        console.reportSuppressed(true);
        console.event("kernel", 0, Level.INFO, "kernel.exit", "app " + config.policy().name()
                + " ended with status " + status + (stopReason != null ? " (" + stopReason + ")" : ""));
        finalTasks = taskInfos();
        done.complete(status);
        reactor.stop();
    }

    private void bug(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        console.kernel(Level.ERROR, "kernel bug (the kernel keeps running): " + w);
    }

    private static String describe(RestartPolicy p) {
        return switch (p.mode()) {
            case NO -> "no";
            case ON_FAILURE -> "on-failure (max " + p.maxRetries() + ", backoff " + p.backoffMs() + " ms)";
            case ALWAYS -> "always (backoff " + p.backoffMs() + " ms)";
        };
    }

    private static String describeStatus(int status) {
        if (status > 128 && status < 128 + 65) {
            int sig = status - 128;
            String name = switch (sig) {
                case 2 -> "SIGINT";
                case 9 -> "SIGKILL";
                case 15 -> "SIGTERM";
                case 11 -> "SIGSEGV";
                case 6 -> "SIGABRT";
                default -> "signal " + sig;
            };
            return " (" + name + ")";
        }
        return "";
    }
}
