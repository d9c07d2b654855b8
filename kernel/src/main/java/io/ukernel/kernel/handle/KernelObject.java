package io.ukernel.kernel.handle;

/**
 * Anything a handle can refer to (a task, a channel endpoint, a socket, a file). Called on the reactor thread only.
 */
public interface KernelObject {
    /** A short kind name for messages, e.g. {@code task} or {@code channel}. */
    String kind();

    /** Releases what this handle held; called once, when its last handle is closed. */
    void close();
}
