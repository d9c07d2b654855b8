package io.ukernel.platform.spi;

/**
 * Receives what a worker does outside the ABI. Called from the platform's own threads, never the kernel's
 * reactor: implementations hand the event over to the reactor (the console sink is thread-safe).
 */
public interface WorkerListener {
    /** One line the worker wrote to stdout ({@code stderr == false}) or stderr, without its newline. */
    void output(String line, boolean stderr);

    /** The worker ended with {@code status} (128 + N when killed by signal N). Called exactly once. */
    void exited(int status);
}
