package io.ukernel.kernel.transport;

import io.ukernel.abi.Frame;
import io.ukernel.kernel.Task;
import java.util.Optional;

/** What a connection needs from the kernel. Called on the reactor thread. */
public interface Session {
    /** Binds a connection presenting {@code token}: the task it was issued to, once; empty when unknown. */
    Optional<Task> attach(String token, Connection connection);

    /** Serves one request of an attached task; null when the call was parked (answered later). */
    Frame.Reply dispatch(Task task, Frame.Request request);

    /**
     * {@code task} stopped reading its replies: {@code pendingBytes} wait to be written, so its connection stopped
     * serving requests until they drain (told once per connection, the first time).
     */
    default void stalled(Task task, int pendingBytes) {}

    /** The connection of {@code task} (null before hello) ended; {@code reason} says why, for the console. */
    void detached(Task task, Connection connection, String reason, boolean protocolError);
}
