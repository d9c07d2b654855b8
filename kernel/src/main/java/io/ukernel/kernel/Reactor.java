package io.ukernel.kernel;

import java.io.IOException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

/**
 * The kernel's single event loop. One thread owns every table (tasks, handles, connections); other threads never
 * touch them and instead hand work over with {@link #execute}, which queues it and wakes the selector (Netty's
 * {@code inEventLoop()}/{@code execute} discipline). Timers run on the same thread.
 */
public final class Reactor {
    private final Selector selector;
    private final ConcurrentLinkedQueue<Runnable> inbox = new ConcurrentLinkedQueue<>();
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    private final Consumer<Throwable> onBug;
    private volatile Thread thread;
    private volatile boolean stopping;
    private long timerSeq;
    /** Cancelled timers still in {@link #timers}; purged once they are most of it (see {@link Timer#cancel}). */
    private int cancelledTimers;

    /**
     * A scheduled action. A cancelled timer is skipped when due, and the queue is purged of cancelled timers once
     * they outnumber live ones: otherwise a task completing polls with far deadlines over and over would leave one
     * dead timer per poll in the queue until its deadline (unbounded memory held for the task).
     */
    public final class Timer implements Comparable<Timer> {
        private final long deadlineNs;
        private final long seq;
        private final Runnable action;
        private boolean cancelled;
        private boolean queued = true;

        private Timer(long deadlineNs, long seq, Runnable action) {
            this.deadlineNs = deadlineNs;
            this.seq = seq;
            this.action = action;
        }

        /** Cancels the action (reactor thread). Idempotent; harmless once it ran. */
        public void cancel() {
            if (cancelled) {
                return;
            }
            cancelled = true;
            if (queued && ++cancelledTimers > PURGE_MIN && cancelledTimers > timers.size() / 2) {
                timers.removeIf(t -> t.cancelled);
                cancelledTimers = 0;
            }
        }

        @Override
        public int compareTo(Timer o) {
            int c = Long.compare(deadlineNs, o.deadlineNs);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }

    /** Below this many cancelled timers the queue is not purged (a purge is linear in the queue). */
    private static final int PURGE_MIN = 64;

    /** Timers queued, cancelled ones included (tests and diagnostics). */
    public int queuedTimers() {
        return timers.size();
    }

    /** Something registered with the selector: told which of its operations are ready. */
    public interface Handler {
        void ready(SelectionKey key) throws IOException;
    }

    /** @param onBug called (on the reactor thread) when a handler throws: a kernel bug, reported, not fatal */
    public Reactor(Consumer<Throwable> onBug) throws IOException {
        this.selector = Selector.open();
        this.onBug = onBug;
    }

    /** Whether the caller is the reactor thread. */
    public boolean inReactor() {
        return Thread.currentThread() == thread;
    }

    /** Runs {@code task} on the reactor thread, soon. Safe from any thread. */
    public void execute(Runnable task) {
        inbox.add(task);
        if (!inReactor()) {
            selector.wakeup();
        }
    }

    /** Runs {@code action} on the reactor thread after {@code delayNs}. Reactor thread only. */
    public Timer schedule(long delayNs, Runnable action) {
        assert inReactor() || thread == null;
        Timer t = new Timer(System.nanoTime() + delayNs, timerSeq++, action);
        timers.add(t);
        return t;
    }

    /** Registers a channel; the handler is attached to its key. Reactor thread only. */
    public SelectionKey register(SelectableChannel channel, int ops, Handler handler) throws IOException {
        channel.configureBlocking(false);
        return channel.register(selector, ops, handler);
    }

    /** Makes {@link #run} return after the current iteration. Safe from any thread. */
    public void stop() {
        stopping = true;
        selector.wakeup();
    }

    /** Runs the loop on the calling thread until {@link #stop}. */
    public void run() {
        thread = Thread.currentThread();
        try {
            while (!stopping) {
                runInbox();
                long wait = runDueTimers();
                if (stopping) {
                    break;
                }
                int n = wait < 0 ? selector.select() : wait == 0 ? selector.selectNow()
                        : selector.select(Math.max(1, wait / 1_000_000));
                if (n > 0) {
                    dispatchReady();
                }
            }
        } catch (IOException | ClosedSelectorException e) {
            onBug.accept(e);
        } finally {
            runInbox();
            try {
                selector.close();
            } catch (IOException ignored) {
                // closing: nothing left to tell
            }
        }
    }

    private void dispatchReady() {
        var keys = selector.selectedKeys().iterator();
        while (keys.hasNext()) {
            SelectionKey key = keys.next();
            keys.remove();
            if (!key.isValid()) {
                continue;
            }
            try {
                ((Handler) key.attachment()).ready(key);
            } catch (IOException | RuntimeException e) {
                key.cancel();
                onBug.accept(e);
            }
        }
    }

    private void runInbox() {
        for (Runnable r; (r = inbox.poll()) != null; ) {
            try {
                r.run();
            } catch (RuntimeException e) {
                onBug.accept(e);
            }
        }
    }

    /** Runs due timers; returns ns until the next one, 0 if work is pending, or -1 when none is scheduled. */
    private long runDueTimers() {
        long now = System.nanoTime();
        while (!timers.isEmpty() && timers.peek().deadlineNs <= now) {
            Timer t = timers.poll();
            t.queued = false;
            if (t.cancelled) {
                cancelledTimers--;
            } else {
                try {
                    t.action.run();
                } catch (RuntimeException e) {
                    onBug.accept(e);
                }
            }
        }
        if (!inbox.isEmpty()) {
            return 0;
        }
        while (!timers.isEmpty() && timers.peek().cancelled) {
            timers.poll().queued = false;
            cancelledTimers--;
        }
        return timers.isEmpty() ? -1 : Math.max(1, timers.peek().deadlineNs - System.nanoTime());
    }
}
