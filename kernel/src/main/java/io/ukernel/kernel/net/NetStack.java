package io.ukernel.kernel.net;

import io.ukernel.abi.Status;
import io.ukernel.kernel.Reactor;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Consumer;

/**
 * What every socket of one kernel shares: the reactor that drives them, the per-direction buffer bound
 * ({@code limits.socket_bytes}), the resolver, and one read buffer (the reactor is single-threaded, so one
 * suffices). Reactor thread only, except that {@link #resolve} runs its lookup on a virtual thread.
 */
public final class NetStack {
    /** How much one read from the host takes at most. */
    static final int READ_CHUNK = 64 * 1024;
    /** How long a closed socket keeps sending what was queued before the kernel gives up on it. */
    static final long LINGER_NS = 30_000_000_000L;
    /** Pause after the host fails an accept (e.g. out of descriptors), instead of spinning on it. */
    static final long ACCEPT_RETRY_NS = 100_000_000L;

    private final Reactor reactor;
    private final long bufferBytes;
    private final Resolver resolver;
    private final ByteBuffer scratch = ByteBuffer.allocateDirect(READ_CHUNK);

    /**
     * @param reactor     the kernel's reactor
     * @param bufferBytes the bound of each socket's receive buffer and of its send buffer
     * @param resolver    how host names become addresses (called off the reactor thread)
     */
    public NetStack(Reactor reactor, long bufferBytes, Resolver resolver) {
        if (bufferBytes <= 0) {
            throw new IllegalArgumentException("socket buffer bound must be positive: " + bufferBytes);
        }
        this.reactor = reactor;
        this.bufferBytes = bufferBytes;
        this.resolver = resolver;
    }

    Reactor reactor() {
        return reactor;
    }

    long bufferBytes() {
        return bufferBytes;
    }

    ByteBuffer scratch() {
        return scratch.clear();
    }

    /** The outcome of a lookup: the addresses, or the status it failed with. */
    record Resolved(List<InetAddress> addresses, Status error) {}

    /** Resolves {@code name} on a virtual thread and hands the outcome to {@code then} on the reactor thread. */
    void resolve(String name, Consumer<Resolved> then) {
        Thread.ofVirtual().name("ukernel-resolve").start(() -> {
            Resolved r;
            try {
                r = new Resolved(resolver.resolve(name), Status.OK);
            } catch (UnknownHostException e) {
                r = new Resolved(List.of(), Status.ERR_NOTFOUND);
            } catch (RuntimeException e) {
                r = new Resolved(List.of(), Status.ERR_IO);
            }
            Resolved done = r;
            reactor.execute(() -> then.accept(done));
        });
    }
}
