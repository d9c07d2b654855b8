package io.ukernel.kernel;

import io.ukernel.kernel.policy.Policy.RestartPolicy;
import io.ukernel.kernel.caps.CapabilitySet;
import io.ukernel.kernel.caps.TaskCaps;
import io.ukernel.kernel.handle.HandleTable;
import io.ukernel.platform.spi.Worker;

/**
 * A task: one worker, its authority, its handle table and its connection to the kernel. Every field is owned by
 * the reactor thread; the platform's threads only post events about it.
 */
public final class Task {
    /** Where a task is in its life. */
    public enum State {
        /** The worker is starting and has not said hello yet. */
        STARTING,
        /** The worker is connected. */
        RUNNING,
        /** The worker ended; {@link #exitStatus()} holds its status. */
        EXITED
    }

    private final int id;
    private final String name;
    private final String entry;
    private final RestartPolicy restart;
    private TaskCaps caps;
    private final HandleTable handles;
    private String token;
    private State state = State.STARTING;
    private Worker worker;
    private long startedNs;
    private int exitStatus = -1;
    private Integer requestedExit;
    private int restarts;
    private java.util.function.Consumer<io.ukernel.abi.Frame.Reply> replies;
    /** Handles other tasks hold on this one; told when it exits. */
    private final java.util.List<TaskRef> observers = new java.util.ArrayList<>();
    /**
     * Calls of this task parked until something happens (io_poll), by identity; dropped when the task ends. At
     * most {@link io.ukernel.abi.Abi#MAX_PARKED_CALLS} (the handlers check {@link #parkedCount()}).
     */
    private final java.util.Set<Runnable> parked = new java.util.LinkedHashSet<>();

    /** The task that spawned this one (null for the main task and boot tasks). */
    private Task parent;

    Task(int id, String name, String entry, RestartPolicy restart, CapabilitySet ceiling, int handleLimit,
            long queuedBytes, long netBytes, String token) {
        this.id = id;
        this.name = name;
        this.entry = entry;
        this.restart = restart;
        this.caps = new TaskCaps(ceiling);
        this.handles = new HandleTable(handleLimit, new io.ukernel.kernel.handle.Account(queuedBytes, netBytes));
        this.token = token;
    }

    public int id() {
        return id;
    }

    public String name() {
        return name;
    }

    public String entry() {
        return entry;
    }

    public RestartPolicy restart() {
        return restart;
    }

    public TaskCaps caps() {
        return caps;
    }

    public HandleTable handles() {
        return handles;
    }

    String token() {
        return token;
    }

    void token(String t) {
        token = t;
    }

    public State state() {
        return state;
    }

    void state(State s) {
        state = s;
    }

    public Worker worker() {
        return worker;
    }

    void started(Worker w, long nowNs) {
        worker = w;
        startedNs = nowNs;
    }

    public long startedNs() {
        return startedNs;
    }

    public int exitStatus() {
        return exitStatus;
    }

    void exitStatus(int status) {
        exitStatus = status;
    }

    /** The code the task passed to {@code task_exit}, if it did. */
    public Integer requestedExit() {
        return requestedExit;
    }

    public void requestExit(int code) {
        requestedExit = code;
    }

    /** The task that spawned this one, or null. */
    public Task parent() {
        return parent;
    }

    void parent(Task p) {
        parent = p;
    }

    public int restarts() {
        return restarts;
    }

    /** A restarted task starts afresh: its first ceiling, no active capabilities, an empty handle table. */
    void restarted(CapabilitySet ceiling) {
        restarts++;
        caps = new TaskCaps(ceiling);
        handles.closeAll();
        requestedExit = null;
        exitStatus = -1;
    }

    /**
     * Host descriptors (duplicates the kernel owns) waiting to travel with this task's next granted replies, in
     * order: a handler stages one just before it returns or sends a granted reply, and the connection takes it when
     * it queues that reply (docs/kernel-abi.md, "Granted descriptors").
     */
    private final java.util.ArrayDeque<Integer> grants = new java.util.ArrayDeque<>();

    /**
     * Stages a duplicate of {@code fd} for the next granted reply; false when the host refused the duplicate
     * (out of descriptors), and then nothing is staged.
     */
    public boolean stageGrant(int fd) {
        int copy = io.ukernel.kernel.io.RawFd.dup(fd);
        if (copy < 0) {
            return false;
        }
        grants.add(copy);
        return true;
    }

    /** The staged descriptor for the granted reply being queued (the taker owns it), or -1. */
    public int takeGrant() {
        Integer fd = grants.poll();
        return fd == null ? -1 : fd;
    }

    /** Closes the staged descriptors nobody took (the connection is gone). */
    public void dropGrants() {
        for (Integer fd; (fd = grants.poll()) != null; ) {
            io.ukernel.kernel.io.RawFd.close(fd);
        }
    }

    /** Where replies to parked calls go: the task's connection (set on hello, cleared when it closes). */
    void replies(java.util.function.Consumer<io.ukernel.abi.Frame.Reply> sink) {
        replies = sink;
    }

    /** Answers a parked call. Dropped silently when the task's connection is gone. */
    public void replyLater(io.ukernel.abi.Frame.Reply reply) {
        if (replies != null) {
            replies.accept(reply);
        }
    }

    /** Registers a cancel action for a parked call; run when the task ends. */
    public void park(Runnable cancel) {
        parked.add(cancel);
    }

    /** Forgets a parked call that completed. */
    public void unpark(Runnable cancel) {
        parked.remove(cancel);
    }

    /** How many calls of this task are parked now. */
    public int parkedCount() {
        return parked.size();
    }

    /** Cancels every parked call (the task ended or lost its connection). */
    void cancelParked() {
        for (Runnable r : parked.toArray(new Runnable[0])) {
            r.run();
        }
        parked.clear();
    }

    void observe(TaskRef ref) {
        observers.add(ref);
    }

    void unobserve(TaskRef ref) {
        observers.remove(ref);
    }

    /** Tells every task handle on this task that it ended. */
    void notifyExit() {
        for (TaskRef r : observers.toArray(new TaskRef[0])) {
            r.taskExited();
        }
    }

    /** {@code name#id}, as in console prefixes. */
    public String label() {
        return name + "#" + id;
    }

    @Override
    public String toString() {
        return label();
    }
}
