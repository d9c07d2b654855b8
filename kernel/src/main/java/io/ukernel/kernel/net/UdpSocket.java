package io.ukernel.kernel.net;

import io.ukernel.abi.Event;
import io.ukernel.abi.Status;
import io.ukernel.kernel.handle.Account;
import io.ukernel.kernel.poll.Waitable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.util.ArrayDeque;
import java.util.function.Predicate;

/**
 * A UDP socket handle (ABI 1.2): {@code net_socket} with {@code NET_SOCK_DGRAM}. The host socket never leaves the
 * kernel (a descriptor in the worker's hands could {@code sendmsg} to any address: the filter cannot read
 * {@code msg_name}); every datagram is sent by {@link #sendTo} after the caller checked its destination, and
 * received ones are queued here by the reactor, at most {@link #MAX_QUEUED} datagrams and at most the socket buffer
 * bound ({@code limits.socket_bytes}) and the task's room ({@code limits.net_bytes}) in bytes: while the queue is
 * full the kernel stops reading and the host drops what it cannot hold, as UDP does.
 *
 * <p>A socket bound by {@code net_bind} (authority: {@code net.bind}) receives from any sender, as a server does. A
 * socket that was not (bound implicitly by its first send, or by a connect) receives only from senders that
 * {@code accepts} allows: the caller passes the {@code net.connect} UDP rules, so a client hears only from peers it
 * may talk to. A connected socket receives only from its peer (the host filters). Reactor thread only.
 */
public final class UdpSocket extends Waitable {
    /** Most datagrams queued per socket, whatever their size. */
    public static final int MAX_QUEUED = 256;
    /** Most reads per readiness event: one busy socket must not starve the others. */
    private static final int READS_PER_EVENT = 16;

    /** One received datagram and its sender. */
    public record Datagram(byte[] data, InetSocketAddress from) {}

    private final NetStack net;
    private final boolean ipv6;
    private final Account account;
    private final DatagramChannel ch;
    private final ArrayDeque<Datagram> queue = new ArrayDeque<>();
    private final Runnable wake = this::changed;
    private long queuedBytes;
    private SelectionKey key;
    private int ops;
    /** Bound by net_bind (receives from anyone); false while unbound or bound implicitly. */
    private boolean explicitlyBound;
    private InetSocketAddress peer;
    /** Senders an unbound (implicitly bound) socket accepts datagrams from. */
    private Predicate<InetSocketAddress> accepts = a -> false;
    /** The host took no datagram at the last send: not WRITABLE until it says it has room. */
    private boolean sendBlocked;
    private Status pending = Status.OK;
    /** Datagrams dropped because their sender was not allowed (statistics, tests). */
    private long dropped;

    private UdpSocket(NetStack net, boolean ipv6, Account account, DatagramChannel ch) {
        this.net = net;
        this.ipv6 = ipv6;
        this.account = account;
        this.ch = ch;
    }

    /** A new unbound UDP socket of the family, its queue charged to {@code account}. */
    public static UdpSocket open(NetStack net, boolean ipv6, Account account) throws IOException {
        DatagramChannel ch = DatagramChannel.open(ipv6 ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
        try {
            ch.configureBlocking(false);
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        UdpSocket s = new UdpSocket(net, ipv6, account, ch);
        account.joinNet(s.wake);
        s.changed();
        return s;
    }

    public boolean ipv6() {
        return ipv6;
    }

    /** Whether the socket has a local address (by net_bind, a connect or a first send). */
    public boolean bound() {
        return key != null;
    }

    public boolean connected() {
        return peer != null;
    }

    /** Datagrams queued now. */
    public int queued() {
        return queue.size();
    }

    /** Datagrams dropped because their sender was not allowed to reach an unbound socket. */
    public long dropped() {
        return dropped;
    }

    /** Binds to {@code addr} (net.bind checked by the caller): datagrams from any sender are received. */
    public Status bind(InetSocketAddress addr) {
        try {
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(addr);
            startReading();
        } catch (IOException e) {
            return HostErrors.status(e);
        }
        explicitlyBound = true;
        return Status.OK;
    }

    /**
     * Fixes the default destination and receives only from it (net.connect checked by the caller). An unbound
     * socket gets an ephemeral port.
     */
    public Status connect(InetSocketAddress addr) {
        try {
            ch.connect(addr);
            peer = (InetSocketAddress) ch.getRemoteAddress();
            startReading();
        } catch (IOException e) {
            return HostErrors.status(e);
        }
        dropQueued(); // what arrived from others before the connect is not the peer's
        changed();
        return Status.OK;
    }

    /**
     * Sends one datagram (the destination checked by the caller; {@code to} null sends to the connected peer).
     * An unbound socket is bound to an ephemeral port first, accepting replies from senders {@code accepts}
     * allows. Returns OK, ERR_WOULDBLOCK when the host has no room now (WRITABLE again once it has), ERR_TOOBIG
     * when the datagram cannot be sent in one piece, or the host's failure.
     */
    public Status sendTo(byte[] data, InetSocketAddress to, Predicate<InetSocketAddress> accepts) {
        try {
            if (key == null) {
                this.accepts = accepts;
                ch.bind(null);
                startReading();
            }
            ByteBuffer b = ByteBuffer.wrap(data);
            int n = to == null ? ch.write(b) : ch.send(b, to);
            if (n == 0 && data.length > 0) {
                sendBlocked = true;
                changed();
                return Status.ERR_WOULDBLOCK;
            }
            return Status.OK;
        } catch (PortUnreachableException e) {
            return Status.ERR_REFUSED; // a connected socket's earlier datagram was refused by the peer's host
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            return m.contains("too long") || m.contains("too large") ? Status.ERR_TOOBIG : HostErrors.status(e);
        }
    }

    /** The oldest datagram, cut to {@code max} bytes (the rest is dropped, as UDP does), or null when none. */
    public Datagram take(int max) {
        Datagram d = queue.poll();
        if (d == null) {
            return null;
        }
        queuedBytes -= d.data().length;
        account.releaseNet(d.data().length);
        changed();
        return d.data().length <= max ? d
                : new Datagram(java.util.Arrays.copyOf(d.data(), max), d.from());
    }

    /** The local address; the family's wildcard and port 0 when unbound. */
    public InetSocketAddress localAddress() {
        try {
            InetSocketAddress a = (InetSocketAddress) ch.getLocalAddress();
            if (a != null) {
                return a;
            }
        } catch (IOException e) {
            // closed: report it as unbound
        }
        return new InetSocketAddress(Hosts.wildcard(ipv6), 0);
    }

    /** The connected peer, or null. */
    public InetSocketAddress peerAddress() {
        return peer;
    }

    /** Takes the pending status (OK when none), clearing ERROR. */
    public Status takeError() {
        Status s = pending;
        pending = Status.OK;
        changed();
        return s;
    }

    private void startReading() throws IOException {
        if (key == null) {
            ops = SelectionKey.OP_READ;
            key = net.reactor().register(ch, ops, k -> onReady());
        }
    }

    private void onReady() {
        if (isClosed() || !key.isValid()) {
            return;
        }
        if (key.isWritable()) {
            sendBlocked = false;
        }
        if (key.isReadable()) {
            readIn();
        }
        changed();
    }

    private void readIn() {
        for (int i = 0; i < READS_PER_EVENT && hasRoom(); i++) {
            ByteBuffer buf = net.scratch();
            InetSocketAddress from;
            try {
                from = (InetSocketAddress) ch.receive(buf);
            } catch (PortUnreachableException e) {
                pending = Status.ERR_REFUSED; // ICMP port unreachable for a datagram sent on the connected socket
                continue;
            } catch (IOException e) {
                pending = HostErrors.status(e);
                return;
            }
            if (from == null) {
                return; // nothing more for now
            }
            if (!explicitlyBound && peer == null && !accepts.test(from)) {
                dropped++;
                continue;
            }
            byte[] b = new byte[buf.flip().remaining()];
            buf.get(b);
            queue.add(new Datagram(b, from));
            queuedBytes += b.length;
            account.chargeNet(b.length);
        }
    }

    /** Whether one more datagram (of up to 64 KiB) may be queued: the count, the socket and the task bounds. */
    private boolean hasRoom() {
        return queue.size() < MAX_QUEUED && queuedBytes < net.bufferBytes() && account.netRoom() > 0;
    }

    private void dropQueued() {
        account.releaseNet(queuedBytes);
        queue.clear();
        queuedBytes = 0;
    }

    /** Recomputes the signals and the host interest from the queue, the send state and the pending status. */
    void changed() {
        if (isClosed()) {
            return;
        }
        if (key != null && key.isValid()) {
            int want = (hasRoom() ? SelectionKey.OP_READ : 0) | (sendBlocked ? SelectionKey.OP_WRITE : 0);
            if (!hasRoom() && account.netRoom() == 0) {
                account.awaitNetRoom(wake); // read on once the task's sockets drain
            }
            if (want != ops) {
                key.interestOps(want);
                ops = want;
            }
        }
        int s = 0;
        if (!queue.isEmpty()) {
            s |= Event.READABLE.bit();
        }
        if (!sendBlocked) {
            s |= Event.WRITABLE.bit();
        }
        if (pending != Status.OK) {
            s |= Event.ERROR.bit();
        }
        signals(s);
    }

    @Override
    public String kind() {
        return "socket";
    }

    @Override
    protected void onClose() {
        dropQueued();
        account.leaveNet(wake);
        try {
            ch.close(); // also cancels the key
        } catch (IOException e) {
            // nothing left to release
        }
    }
}
