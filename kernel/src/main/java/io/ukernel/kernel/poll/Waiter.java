package io.ukernel.kernel.poll;

/** Told when a {@link Waitable}'s signals change or it is closed. Reactor thread only. */
public interface Waiter {
    void signalled(Waitable source);
}
