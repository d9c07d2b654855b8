package io.ukernel.platform.spi;

/** A started worker. Methods may be called from any thread. */
public interface Worker {
    /** The host process id, or -1 where there is none. */
    long pid();

    /** Asks the worker to stop (SIGTERM on the process platform); the exit is reported to the listener. */
    void terminate();

    /** Stops the worker at once (SIGKILL). */
    void kill();

    /** Whether the worker is still running. */
    boolean alive();
}
