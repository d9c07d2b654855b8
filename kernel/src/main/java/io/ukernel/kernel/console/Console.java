package io.ukernel.kernel.console;

import io.ukernel.kernel.KernelClock;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The kernel console: every line goes to the terminal and to {@code logs/console.log}, flushed per line so
 * nothing is lost when the kernel or a worker crashes. This is the one object several threads write to (the
 * reactor, and the threads pumping workers' stdout/stderr), so its writes are synchronized; nothing else in the
 * kernel takes a lock.
 *
 * <p>The console is the kernel's voice: the prefix (time, task, level) and the JSON {@code event} field are
 * always the kernel's. Text a worker wrote ({@link #output}) is one line whatever it holds (controls are escaped
 * by the {@link LineFormat}), and is rate-limited per task, as are the audit lines ({@link #audit}) a task's
 * refused calls cause ({@link ConsoleLimits}).
 */
public final class Console implements AutoCloseable {
    private static final int OUTPUT = 0;
    private static final int AUDIT = 1;
    /** DEBUG audit lines ({@code --debug}: every failed call): kept apart so they cannot crowd out denials. */
    private static final int DEBUG_AUDIT = 2;
    private static final String[] KINDS = {"output", "audit", "debug"};

    private final KernelClock clock;
    private final LineFormat format;
    private final ConsoleLimits limits;
    private final List<PrintStream> sinks = new ArrayList<>();
    private final OutputStream file;
    private final boolean debug;
    /** Per task id: its output and audit budgets. */
    private final Map<Integer, LineBudget[]> budgets = new HashMap<>();
    /**
     * Spawned task id -> the task whose budgets it writes within (its declared ancestor). A fresh budget per
     * spawned task would let a task multiply its own by spawning children that write their burst and exit.
     */
    private final Map<Integer, Integer> owners = new HashMap<>();
    /** Owners that are gone but whose budgets spawned tasks still use. */
    private final java.util.Set<Integer> goneOwners = new java.util.HashSet<>();
    private boolean closed;

    private Console(KernelClock clock, LineFormat format, ConsoleLimits limits, PrintStream terminal,
            OutputStream file, boolean debug) {
        this.clock = clock;
        this.format = format;
        this.limits = limits;
        this.file = file;
        this.debug = debug;
        if (terminal != null) {
            sinks.add(terminal);
        }
        if (file != null) {
            sinks.add(new PrintStream(file, false, StandardCharsets.UTF_8));
        }
    }

    /**
     * Opens a console writing to {@code terminal} (may be null) and to {@code logFile} (may be null). An existing
     * log is kept as {@code console.log.1} so the previous run can still be read. {@code DEBUG} lines are dropped
     * unless {@code debug}.
     */
    public static Console open(KernelClock clock, LineFormat format, PrintStream terminal, Path logFile,
            boolean debug) throws IOException {
        return open(clock, format, ConsoleLimits.DEFAULT, terminal, logFile, debug);
    }

    /** As {@link #open(KernelClock, LineFormat, PrintStream, Path, boolean)}, with other rate limits (tests). */
    public static Console open(KernelClock clock, LineFormat format, ConsoleLimits limits, PrintStream terminal,
            Path logFile, boolean debug) throws IOException {
        OutputStream out = null;
        if (logFile != null) {
            Files.createDirectories(logFile.toAbsolutePath().getParent());
            if (Files.exists(logFile)) {
                Files.move(logFile, logFile.resolveSibling(logFile.getFileName() + ".1"),
                        StandardCopyOption.REPLACE_EXISTING);
            }
            out = Files.newOutputStream(logFile, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        return new Console(clock, format, limits, terminal, out, debug);
    }

    /**
     * Opens a console writing to {@code terminal} (may be null) and to {@code log} (may be null), which the console
     * flushes after every line and closes with itself; rotating or keeping old logs is the caller's business.
     */
    public static Console toStream(KernelClock clock, LineFormat format, PrintStream terminal, OutputStream log,
            boolean debug) {
        return new Console(clock, format, ConsoleLimits.DEFAULT, terminal, log, debug);
    }

    /** Writes a kernel line; the kernel's own multi-line text (a stack trace) becomes one line per line. */
    public void kernel(Level level, String text) {
        write("kernel", 0, level, null, text);
    }

    /**
     * Writes a kernel event line about a task (machine-readable {@code event} in JSON): one line, never
     * rate-limited. For what the kernel does (start, exit, restart), not for what a task can cause at will.
     */
    public void event(String task, int taskId, Level level, String event, String text) {
        if (level == Level.DEBUG && !debug) {
            return;
        }
        emit(line(task, taskId, level, event, text));
    }

    /**
     * Writes an audit line: a kernel event caused by a task's call (a denial, a bad handle, a capability change).
     * One line, within the task's audit budget.
     */
    public void audit(String task, int taskId, Level level, String event, String text) {
        limited(level == Level.DEBUG ? DEBUG_AUDIT : AUDIT, task, taskId, level, event, text);
    }

    /**
     * Writes text a task wrote ({@code log_write}, a line of its stdout or stderr) as one line with the task's
     * prefix, within the task's output budget. {@code event} is for the kernel's own knowledge about the line
     * (the loader's confinement report), never derived from what the app's code could write.
     */
    public void output(String task, int taskId, Level level, String event, String text) {
        limited(OUTPUT, task, taskId, level, event, text);
    }

    /** Writes one line per line of {@code text}: the kernel's own text only. */
    private void write(String task, int taskId, Level level, String event, String text) {
        if (level == Level.DEBUG && !debug) {
            return;
        }
        long mono = clock.monotonicNs();
        long wall = clock.wallNs() / 1_000_000;
        int start = 0;
        do {
            int nl = text.indexOf('\n', start);
            String part = nl < 0 ? text.substring(start) : text.substring(start, nl);
            emit(format.render(new ConsoleLine(mono, wall, task, taskId, level, event, stripCr(part))));
            start = nl < 0 ? -1 : nl + 1;
        } while (start > 0 && start < text.length());
    }

    /**
     * Reports the lines dropped since the last report for every task whose report is due (an interval after its
     * first drop); with {@code force}, every pending count. The kernel calls this on a timer, so a task that
     * floods and then falls silent still has its losses reported.
     */
    public synchronized void reportSuppressed(boolean force) {
        long now = clock.monotonicNs();
        budgets.forEach((id, kinds) -> {
            for (int k = 0; k < kinds.length; k++) {
                report(kinds[k], id, k, now, force);
            }
        });
    }

    /** Reports the pending counts of one task (of the budget it writes within) at once: it exited. */
    public synchronized void reportSuppressed(int taskId) {
        int owner = owner(taskId);
        LineBudget[] kinds = budgets.get(owner);
        if (kinds != null) {
            long now = clock.monotonicNs();
            for (int k = 0; k < kinds.length; k++) {
                report(kinds[k], owner, k, now, true);
            }
        }
    }

    /**
     * Makes the spawned task {@code childId} write within the budgets of {@code parentId} (and so of the parent's
     * own owner): a task and everything it spawns share one budget, as its messages in flight stay charged to it.
     */
    public synchronized void share(int childId, int parentId, String parentName) {
        int owner = owner(parentId);
        budgets(owner, owner == parentId ? parentName : null, clock.monotonicNs());
        owners.put(childId, owner);
    }

    /**
     * Drops a task's budgets once it is gone for good (not restarting: a restarted task keeps its id and its
     * budget, so a crash loop cannot refill it), after reporting what they still count. Budgets that spawned tasks
     * still write within stay until the last of them is gone (else each would find a fresh one).
     */
    public synchronized void forget(int taskId) {
        reportSuppressed(taskId);
        Integer owner = owners.remove(taskId);
        int o = owner == null ? taskId : owner;
        if (owner == null) {
            goneOwners.add(taskId);
        }
        if (goneOwners.contains(o) && !owners.containsValue(o)) {
            goneOwners.remove(o);
            budgets.remove(o);
        }
    }

    private int owner(int taskId) {
        return owners.getOrDefault(taskId, taskId);
    }

    private LineBudget[] budgets(int owner, String task, long now) {
        return budgets.computeIfAbsent(owner, id -> new LineBudget[] {
                new LineBudget(rate(OUTPUT), limits.reportIntervalNs(), task, now),
                new LineBudget(rate(AUDIT), limits.reportIntervalNs(), task, now),
                new LineBudget(rate(DEBUG_AUDIT), limits.reportIntervalNs(), task, now)});
    }

    private synchronized void limited(int kind, String task, int taskId, Level level, String event, String text) {
        if (level == Level.DEBUG && !debug) {
            return;
        }
        long now = clock.monotonicNs();
        int owner = owner(taskId);
        LineBudget budget = budgets(owner, task, now)[kind];
        // A shared budget keeps its owner's name: its reports speak for the owner's id.
        boolean admitted = budget.admit(owner == taskId ? task : budget.task(), now, text.length());
        report(budget, owner, kind, now, false);
        if (admitted) {
            emit(line(task, taskId, level, event, text));
        }
    }

    private ConsoleLimits.Rate rate(int kind) {
        return kind == AUDIT ? limits.audit() : limits.output();
    }

    private void report(LineBudget budget, int taskId, int kind, long now, boolean force) {
        long n = budget.takeDue(now, force);
        if (n > 0) {
            emit(line(budget.task(), taskId, Level.WARN, "console.suppressed", "ukernel: " + n + " " + KINDS[kind]
                    + " line" + (n == 1 ? "" : "s") + " of this task suppressed (over the console limit of "
                    + rate(kind) + ")"));
        }
    }

    private String line(String task, int taskId, Level level, String event, String text) {
        return format.render(new ConsoleLine(clock.monotonicNs(), clock.wallNs() / 1_000_000, task, taskId, level,
                event, text));
    }

    private static String stripCr(String s) {
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
    }

    private synchronized void emit(String rendered) {
        if (closed) {
            return;
        }
        for (PrintStream sink : sinks) {
            sink.println(rendered);
            sink.flush();
        }
    }

    @Override
    public synchronized void close() throws IOException {
        closed = true;
        if (file != null) {
            file.close();
        }
    }
}
