package io.ukernel.kernel.net;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;

/**
 * A listening socket. The reactor accepts eagerly into a small bounded queue (at most {@link #MAX_QUEUE}, or the
 * backlog if smaller), so "a connection is pending" is a fact the kernel holds, not a guess: READABLE exactly
 * when the queue is non-empty. When the queue is full OP_ACCEPT interest is dropped and further connections wait
 * in the host's backlog. Queued connections are not read from until accepted. Each queued connection is a host
 * descriptor the task did not ask for yet: it counts as a handle of the listener's creator ({@code limits.handles})
 * until it is accepted or dropped, and the listener queues none while that task has no handle room (it looks
 * again every {@link NetStack#ACCEPT_RETRY_NS}). Reactor thread only.
 */
final class TcpListener {
    /** The backlog used when the worker asks for {@code <= 0}. */
    static final int DEFAULT_BACKLOG = 128;
    /** Most connections accepted from the host ahead of the worker. */
    static final int MAX_QUEUE = 64;

    private final NetStack net;
    private final ServerSocketChannel server;
    private final NetSocket owner;
    private final SelectionKey key;
    private final InetSocketAddress local;
    private final ArrayDeque<SocketChannel> queue = new ArrayDeque<>();
    private int capacity;
    private boolean paused;
    private int ops;

    private TcpListener(NetStack net, ServerSocketChannel server, NetSocket owner, int backlog) throws IOException {
        this.net = net;
        this.server = server;
        this.owner = owner;
        this.local = (InetSocketAddress) server.getLocalAddress();
        this.capacity = queueCapacity(backlog);
        this.ops = SelectionKey.OP_ACCEPT;
        this.key = net.reactor().register(server, ops, k -> acceptIn());
    }

    /** Binds a new listening channel to {@code addr} and starts accepting. */
    static TcpListener open(NetStack net, NetSocket owner, boolean ipv6, InetSocketAddress addr, int backlog)
            throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open(ipv6 ? StandardProtocolFamily.INET6
                : StandardProtocolFamily.INET);
        try {
            s.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            s.bind(addr, backlog <= 0 ? DEFAULT_BACKLOG : backlog);
            return new TcpListener(net, s, owner, backlog);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    private static int queueCapacity(int backlog) {
        return Math.min(MAX_QUEUE, backlog <= 0 ? DEFAULT_BACKLOG : backlog);
    }

    InetSocketAddress local() {
        return local;
    }

    boolean hasPending() {
        return !queue.isEmpty();
    }

    /** Listening again changes only how many connections the kernel queues (the host's backlog stays). */
    void backlog(int backlog) {
        capacity = queueCapacity(backlog);
        acceptIn();
    }

    /** The oldest queued connection, or null. */
    SocketChannel take() {
        SocketChannel ch = queue.poll();
        if (ch != null) {
            owner.account().release(1, 0);
            // Refill after the caller has installed this one: refilling now would spend the room it freed.
            net.reactor().execute(this::acceptIn);
        }
        return ch;
    }

    /** Stops listening; connections still queued are reset (SO_LINGER 0), as the host does. */
    void close() {
        quietly(server);
        for (SocketChannel ch; (ch = queue.poll()) != null; ) {
            owner.account().release(1, 0);
            try {
                ch.setOption(StandardSocketOptions.SO_LINGER, 0);
            } catch (IOException e) {
                // closed below either way
            }
            quietly(ch);
        }
    }

    private void acceptIn() {
        while (!paused && queue.size() < capacity && server.isOpen()) {
            if (owner.account().handleRoom() <= 0) {
                pause(); // the creator's handle quota is used up: connections wait in the host's backlog
                break;
            }
            SocketChannel ch = null;
            try {
                ch = server.accept();
                if (ch == null) {
                    break;
                }
                ch.configureBlocking(false);
            } catch (IOException e) {
                if (ch != null) {
                    quietly(ch);
                }
                // Out of descriptors or a connection gone before it was taken: pause rather than spin; the
                // listener itself is fine, so this is not an ERROR for the worker.
                pause();
                break;
            }
            queue.add(ch);
            owner.account().charge(1, 0);
        }
        updateInterest();
        owner.changed();
    }

    private void pause() {
        paused = true;
        net.reactor().schedule(NetStack.ACCEPT_RETRY_NS, () -> {
            paused = false;
            acceptIn();
        });
    }

    private void updateInterest() {
        int want = !paused && queue.size() < capacity ? SelectionKey.OP_ACCEPT : 0;
        if (want != ops && key.isValid()) {
            key.interestOps(want);
            ops = want;
        }
    }

    private static void quietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // nothing left to release
        }
    }
}
