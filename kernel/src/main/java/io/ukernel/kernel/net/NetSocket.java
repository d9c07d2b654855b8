package io.ukernel.kernel.net;

import io.ukernel.abi.Event;
import io.ukernel.abi.Status;
import io.ukernel.kernel.handle.Account;
import io.ukernel.kernel.poll.Waitable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A TCP socket handle: created unbound by {@code net_socket}, it becomes a listener ({@code net_listen}) or a
 * connection ({@code net_connect}, or {@code net_accept} on a listener). Non-blocking throughout; its signals are
 * kept current by the reactor (see {@link TcpStream} and {@link TcpListener}), and a failure the worker has not
 * read yet is held as a pending status ({@code net_error}) that also raises ERROR. Scopes are checked by the
 * caller before {@link #bind} and {@link #connect}. The bytes buffered for it are charged to the account of the
 * task that created it ({@code limits.net_bytes}), wherever its handle goes. Reactor thread only.
 */
public final class NetSocket extends Waitable {
    /** Where the socket is in its life. */
    public enum State {
        /** Created; nothing done yet. */
        FRESH,
        /** Bound to a local address. */
        BOUND,
        /** Accepting connections. */
        LISTENING,
        /** Resolving the peer's name, or the host is connecting. */
        CONNECTING,
        /** Established (possibly since shut down, ended or reset). */
        CONNECTED,
        /** The connect failed; nothing more can be done with it. */
        FAILED
    }

    private final NetStack net;
    private final boolean ipv6;
    private final Account account;
    /** ABI 1.1 {@code NET_DIRECT}: once connected (or accepted from it) the worker is granted the host descriptor. */
    private final boolean direct;
    private State state;
    /** The host socket before it listens or connects (FRESH, BOUND, CONNECTING); null afterwards. */
    private SocketChannel channel;
    private TcpListener listener;
    private TcpStream stream;
    private Status pending = Status.OK;
    /**
     * A granted connection: the kernel's own reference to the host socket whose descriptor the worker holds. Not
     * registered with the reactor (the worker moves the bytes); closing the handle shuts it down for both holders.
     */
    private SocketChannel granted;
    private InetSocketAddress grantedLocal;
    private InetSocketAddress grantedPeer;
    /** Told once how a parked direct connect ended (OK: connected); null when nobody waits. */
    private Consumer<Status> connectDone;
    private SelectionKey connectKey;

    private NetSocket(NetStack net, boolean ipv6, State state, SocketChannel channel, Account account,
            boolean direct) {
        this.net = net;
        this.ipv6 = ipv6;
        this.account = account;
        this.state = state;
        this.channel = channel;
        this.direct = direct;
    }

    /** A new unbound socket of the family ({@code ipv6} or IPv4), its buffers charged to {@code account}. */
    public static NetSocket open(NetStack net, boolean ipv6, Account account) throws IOException {
        return open(net, ipv6, account, false);
    }

    /** As {@link #open(NetStack, boolean, Account)}; {@code direct} asks for granted connections (ABI 1.1). */
    public static NetSocket open(NetStack net, boolean ipv6, Account account, boolean direct) throws IOException {
        SocketChannel ch = SocketChannel.open(ipv6 ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
        try {
            ch.configureBlocking(false);
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        return new NetSocket(net, ipv6, State.FRESH, ch, account, direct);
    }

    /** Whether this socket was made with {@code NET_DIRECT}. */
    public boolean direct() {
        return direct;
    }

    /** The host channel of a granted connection (its descriptor is what the worker is sent), or null. */
    public SocketChannel grantedChannel() {
        return granted;
    }

    @Override
    public boolean granted() {
        return granted != null;
    }

    /**
     * Asks to be told once how the connect that just answered ERR_INPROGRESS ends: OK when connected (the socket
     * is then granted), else the failure. Told ERR_CLOSED if the handle is closed first.
     */
    public void whenConnected(Consumer<Status> done) {
        connectDone = done;
    }

    /** Forgets the parked connect (its task ended). */
    public void cancelWhenConnected() {
        connectDone = null;
    }

    private void connectFinished(Status st) {
        Consumer<Status> done = connectDone;
        connectDone = null;
        if (done != null) {
            done.accept(st);
        }
    }

    public State state() {
        return state;
    }

    /** Whether this is an IPv6 socket. */
    public boolean ipv6() {
        return ipv6;
    }

    /**
     * Binds to {@code addr}. SO_REUSEADDR is set (as asyncio servers do), so a restarted server rebinds a port
     * still in TIME_WAIT; a port another socket listens on is still ERR_ADDRINUSE.
     */
    public Status bind(InetSocketAddress addr) {
        try {
            channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            channel.bind(addr);
        } catch (IOException e) {
            return HostErrors.status(e);
        }
        state = State.BOUND;
        return Status.OK;
    }

    /**
     * Starts listening at the bound address. Java cannot listen on a plain socket, so a listening socket takes
     * the address over (bound before the plain one is closed: SO_REUSEADDR on both lets it, leaving no gap).
     */
    public Status listen(int backlog) {
        if (state == State.LISTENING) {
            listener.backlog(backlog);
            return Status.OK;
        }
        try {
            listener = TcpListener.open(net, this, ipv6, (InetSocketAddress) channel.getLocalAddress(), backlog);
        } catch (IOException e) {
            return HostErrors.status(e);
        }
        closeQuietly();
        state = State.LISTENING;
        changed();
        return Status.OK;
    }

    /** Whether a connection waits to be accepted. */
    public boolean hasPendingConnection() {
        return state == State.LISTENING && listener.hasPending();
    }

    /** Where this socket's buffered bytes (and a listener's queued connections) are charged. */
    Account account() {
        return account;
    }

    /** Whether this socket's charges go to {@code a} (its creator's account). */
    public boolean chargedTo(Account a) {
        return account.same(a);
    }

    /**
     * The oldest pending connection as a new connected socket whose buffers are charged to {@code account} (the
     * accepting task's), or null when none is pending.
     */
    public NetSocket accept(Account account) throws IOException {
        SocketChannel ch = listener.take();
        changed();
        if (ch == null) {
            return null;
        }
        NetSocket s = new NetSocket(net, ipv6, State.CONNECTED, null, account, direct);
        try {
            if (direct) {
                s.grant(ch);
            } else {
                s.stream = new TcpStream(net, ch, s);
            }
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        s.changed();
        return s;
    }

    /**
     * Starts connecting to {@code addr}: OK when connected at once, ERR_INPROGRESS when the outcome comes later
     * (WRITABLE, and ERROR with a pending status on failure), or the failure reported at once (the socket is then
     * FAILED).
     */
    public Status connect(InetSocketAddress addr) {
        try {
            if (channel.connect(addr)) {
                established();
                return Status.OK;
            }
            connectKey = net.reactor().register(channel, SelectionKey.OP_CONNECT, k -> finishConnect());
            state = State.CONNECTING;
            changed();
            return Status.ERR_INPROGRESS;
        } catch (IOException e) {
            fail(Status.OK);
            return HostErrors.status(e);
        }
    }

    /**
     * Resolves {@code name} off the reactor thread, then connects to its first address of this socket's family if
     * {@code allowed} accepts it; otherwise {@code onDenied} is told and the pending status is ERR_DENIED. The
     * socket is CONNECTING meanwhile; every outcome arrives as readiness (as for {@link #connect}).
     */
    public void connect(String name, int port, Predicate<InetAddress> allowed, Consumer<InetAddress> onDenied) {
        state = State.CONNECTING;
        changed();
        net.resolve(name, r -> {
            if (isClosed() || state != State.CONNECTING || stream != null) {
                return; // closed while the name was being looked up
            }
            InetAddress a = r.addresses().stream().filter(x -> Hosts.ofFamily(x, ipv6)).findFirst().orElse(null);
            if (a == null) {
                fail(r.error() == Status.OK ? Status.ERR_NOTFOUND : r.error());
            } else if (!allowed.test(a)) {
                onDenied.accept(a);
                fail(Status.ERR_DENIED);
            } else {
                Status s = connect(new InetSocketAddress(a, port));
                if (s != Status.OK && s != Status.ERR_INPROGRESS) {
                    pending = s;
                    changed();
                    connectFinished(s);
                }
            }
        });
    }

    private void finishConnect() {
        try {
            if (channel.finishConnect()) {
                established();
            }
        } catch (IOException e) {
            fail(HostErrors.status(e));
        }
    }

    private void established() throws IOException {
        if (direct) {
            if (connectKey != null) {
                connectKey.cancel(); // the worker waits on the descriptor; the kernel never reads this socket
                connectKey = null;
            }
            grant(channel);
        } else {
            stream = new TcpStream(net, channel, this);
        }
        channel = null; // the stream (or the grant) owns it now
        state = State.CONNECTED;
        changed();
        connectFinished(Status.OK);
    }

    private void grant(SocketChannel ch) throws IOException {
        grantedLocal = (InetSocketAddress) ch.getLocalAddress();
        grantedPeer = (InetSocketAddress) ch.getRemoteAddress();
        granted = ch;
    }

    /** The connect failed: the host socket is released, and {@code why} (unless OK) becomes the pending status. */
    private void fail(Status why) {
        closeQuietly();
        state = State.FAILED;
        if (why != Status.OK) {
            pending = why;
        }
        changed();
        if (why != Status.OK) {
            connectFinished(why); // a failure reported at once (OK here) is the caller's to tell
        }
    }

    /** Queues bytes on a connected socket; returns how many were taken (0: the send buffer is full). */
    public int send(byte[] data) {
        return stream.send(data);
    }

    /** Received bytes (at most {@code max}), empty at end of stream, or null when nothing has arrived. */
    public byte[] recv(int max) {
        return stream.recv(max);
    }

    /** Whether sends on this connected socket are refused for good (shut down for writing, reset). */
    public boolean writeClosed() {
        return stream.writeClosed();
    }

    /** Whether this connected socket was reset or failed. */
    public boolean isReset() {
        return stream.isReset();
    }

    /** Shuts down reading and/or writing of a connected socket. */
    public void shutdown(boolean read, boolean write) {
        if (granted != null) {
            try {
                if (read) {
                    granted.shutdownInput();
                }
                if (write) {
                    granted.shutdownOutput();
                }
            } catch (IOException e) {
                // already reset: nothing left to shut down
            }
            return;
        }
        stream.shutdown(read, write);
    }

    /** The local address; the family's wildcard and port 0 when unbound. */
    public InetSocketAddress localAddress() {
        InetSocketAddress a = switch (state) {
            case LISTENING -> listener.local();
            case CONNECTED -> granted != null ? grantedLocal : stream.local();
            default -> {
                try {
                    yield channel == null ? null : (InetSocketAddress) channel.getLocalAddress();
                } catch (IOException e) {
                    yield null;
                }
            }
        };
        return a != null ? a : new InetSocketAddress(Hosts.wildcard(ipv6), 0);
    }

    /** The peer's address, or null when the socket is not connected. */
    public InetSocketAddress peerAddress() {
        return state != State.CONNECTED ? null : granted != null ? grantedPeer : stream.peer();
    }

    /** Takes the pending status (OK when none), clearing it and its ERROR signal. */
    public Status takeError() {
        Status s = pending;
        pending = Status.OK;
        changed();
        return s;
    }

    /** The stream failed (reset, broken pipe): its status becomes pending. */
    void streamFailed(Status why) {
        if (pending == Status.OK) {
            pending = why;
        }
        changed();
    }

    /** Recomputes the signals from the state, the buffers and the pending status. */
    void changed() {
        if (isClosed()) {
            return;
        }
        int s = switch (state) {
            case LISTENING -> listener.hasPending() ? Event.READABLE.bit() : 0;
            case CONNECTED -> granted != null ? 0 : stream.signals(); // the worker polls the descriptor
            case FAILED -> Event.WRITABLE.bit(); // the connect finished (and failed)
            default -> 0;
        };
        if (pending != Status.OK) {
            s |= Event.ERROR.bit();
        }
        signals(s);
    }

    private void closeQuietly() {
        if (channel != null) {
            try {
                channel.close(); // also cancels its key
            } catch (IOException e) {
                // nothing left to release
            }
            channel = null;
        }
    }

    @Override
    public String kind() {
        return state == State.LISTENING ? "listener" : "socket";
    }

    @Override
    protected void onClose() {
        switch (state) {
            case LISTENING -> listener.close();
            case CONNECTED -> {
                if (granted != null) {
                    revoke();
                } else {
                    stream.close();
                }
            }
            default -> closeQuietly();
        }
        connectFinished(Status.ERR_CLOSED);
    }

    /**
     * Ends a granted connection for both holders: shutdown(SHUT_RDWR) reaches the one host socket the worker's
     * descriptor also names (its reads see end of stream, its writes EPIPE), then the kernel's copy is closed.
     */
    private void revoke() {
        try {
            granted.shutdownOutput();
            granted.shutdownInput();
        } catch (IOException e) {
            // already reset or shut down: nothing more to end
        }
        try {
            granted.close();
        } catch (IOException e) {
            // nothing left to release
        }
    }
}
