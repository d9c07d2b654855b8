package io.ukernel.kernel.handle;

/**
 * Anything a handle can refer to (a task, a channel endpoint, a socket, a file). Called on the reactor thread only.
 */
public interface KernelObject {
    /** A short kind name for messages, e.g. {@code task} or {@code channel}. */
    String kind();

    /**
     * Whether the worker holds this object's host descriptor (an ABI 1.1 granted socket): the handle then stays in
     * its task (moving it is {@code ERR_BUSY}), and closing it revokes the descriptor.
     */
    default boolean granted() {
        return false;
    }

    /** Releases what this handle held; called once, when its last handle is closed. */
    void close();
}
