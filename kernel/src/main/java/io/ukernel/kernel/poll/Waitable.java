package io.ukernel.kernel.poll;

import io.ukernel.abi.Event;
import io.ukernel.kernel.handle.KernelObject;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A kernel object with readiness: its current {@link Event} bits are kept up to date by the object itself (a
 * channel when a message is queued, a socket when the reactor moved bytes), so {@code io_poll} never asks the
 * host — it reads these bits and, when nothing is ready, waits for a change. Zircon calls these signals.
 * Reactor thread only.
 */
public abstract class Waitable implements KernelObject {
    /**
     * Registered waiters, by identity (waiters do not override {@code equals}): adding and removing are O(1)
     * whatever their number, so a task parking many polls on one object costs linear, not quadratic, time.
     */
    private final Set<Waiter> waiters = new LinkedHashSet<>(4);
    private int signals;
    private boolean closed;

    /** The current readiness bits ({@link Event}). */
    public final int signals() {
        return signals;
    }

    /** Whether {@link #close()} ran. A closed object reports nothing and its handles are gone. */
    public final boolean isClosed() {
        return closed;
    }

    /** Sets the readiness bits; waiters are told when they change. */
    protected final void signals(int bits) {
        if (bits != signals) {
            signals = bits;
            notifyWaiters();
        }
    }

    /** Sets and clears bits in one change. */
    protected final void update(int set, int clear) {
        signals((signals & ~clear) | set);
    }

    /** Registers {@code w} (once: adding it again changes nothing). */
    public final void addWaiter(Waiter w) {
        waiters.add(w);
    }

    public final void removeWaiter(Waiter w) {
        waiters.remove(w);
    }

    /** How many waiters are registered (tests and diagnostics). */
    public final int waiterCount() {
        return waiters.size();
    }

    private void notifyWaiters() {
        // Copy: a waiter typically removes itself (and others) while being told.
        for (Waiter w : waiters.toArray(new Waiter[0])) {
            w.signalled(this);
        }
    }

    @Override
    public final void close() {
        if (closed) {
            return;
        }
        closed = true;
        onClose();
        notifyWaiters();
        waiters.clear();
    }

    /** Releases the object's resources and tells its peers; called once. */
    protected abstract void onClose();
}
