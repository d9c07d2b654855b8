package io.ukernel.kernel.net;

import io.ukernel.abi.Event;
import io.ukernel.abi.Status;
import io.ukernel.kernel.Reactor;
import io.ukernel.kernel.handle.Account;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;

/**
 * An established TCP connection with both directions buffered in the kernel, so its readiness is known without
 * asking the host. The reactor reads eagerly into {@code in} while it has room (OP_READ interest is dropped when it
 * is full and restored when the worker drains it) and writes {@code out} whenever the host takes more (OP_WRITE
 * interest only while {@code out} is non-empty). A send tries the host at once when nothing was queued, so an
 * idle connection answers without a reactor round trip. Every byte in {@code in} and {@code out} is charged to
 * the owner's account ({@code limits.net_bytes}, per task): without room the stream takes no more to send and
 * reads nothing more from the host, and waits for the account to free some ({@link Account#awaitNetRoom}).
 * Reactor thread only.
 */
final class TcpStream {
    /** Most reads per readiness event: one busy connection must not starve the others. */
    private static final int READS_PER_EVENT = 16;

    private final NetStack net;
    private final SocketChannel ch;
    private final NetSocket owner;
    private final SelectionKey key;
    private final InetSocketAddress local;
    private final InetSocketAddress peer;
    private final ByteQueue in = new ByteQueue();
    private final ByteQueue out = new ByteQueue();
    /** The task account charged for {@code in} and {@code out}. */
    private final Account account;
    /** Re-evaluates interest and signals once the account has room again (one identity per stream). */
    private final Runnable wake = this::changed;
    private int ops;
    /** End of stream: the peer's FIN arrived, or reading was shut down here. */
    private boolean eof;
    /** Sends are refused from now on; a FIN follows once {@code out} drains. */
    private boolean outputShut;
    private boolean finSent;
    /** Reset or failed (the host channel is closed); also set once the stream is closed for good. */
    private boolean broken;
    /** The handle was closed: the stream lives on only to flush {@code out}. */
    private boolean orphan;
    private Reactor.Timer linger;

    TcpStream(NetStack net, SocketChannel ch, NetSocket owner) throws IOException {
        this.net = net;
        this.ch = ch;
        this.owner = owner;
        this.account = owner.account();
        account.joinNet(wake);
        this.local = (InetSocketAddress) ch.getLocalAddress();
        this.peer = (InetSocketAddress) ch.getRemoteAddress();
        this.ops = SelectionKey.OP_READ;
        // Re-registering a channel that waited for OP_CONNECT updates its key (same selector).
        this.key = net.reactor().register(ch, ops, k -> onReady());
    }

    InetSocketAddress local() {
        return local;
    }

    InetSocketAddress peer() {
        return peer;
    }

    /** Whether sends are refused for good (shut down for writing, reset or failed). */
    boolean writeClosed() {
        return outputShut || broken;
    }

    boolean isReset() {
        return broken;
    }

    /** Queues as much of {@code data} as the send buffer takes; returns the count (0: full). */
    int send(byte[] data) {
        long room = Math.min(net.bufferBytes() - out.size(), account.netRoom());
        int n = (int) Math.min(data.length, Math.max(0, room));
        if (n == 0) {
            if (account.netRoom() == 0) {
                account.awaitNetRoom(wake);
            }
            return 0;
        }
        boolean wasEmpty = out.isEmpty();
        out.add(data, 0, n);
        account.chargeNet(n);
        if (wasEmpty) {
            flush();
        }
        changed();
        return n;
    }

    /** Up to {@code max} received bytes; empty at end of stream; null when nothing has arrived yet. */
    byte[] recv(int max) {
        if (!in.isEmpty()) {
            byte[] b = in.take(max);
            account.releaseNet(b.length);
            changed();
            return b;
        }
        return eof ? new byte[0] : null;
    }

    /** Shuts down reading (received bytes are dropped, recv gives end of stream) and/or writing (after a flush). */
    void shutdown(boolean read, boolean write) {
        if (read && !eof) {
            eof = true;
            clearIn();
            if (!broken) {
                try {
                    ch.shutdownInput();
                } catch (IOException e) {
                    // the host stream is going anyway; reads here are over either way
                }
            }
        }
        if (write && !outputShut) {
            outputShut = true;
            flush();
        }
        changed();
    }

    /** The readiness of a connected socket (ERROR is the owner's pending error). */
    int signals() {
        int s = 0;
        if (!in.isEmpty() || eof) {
            s |= Event.READABLE.bit();
        }
        if (!writeClosed() && out.size() < net.bufferBytes()) {
            if (account.netRoom() > 0) {
                s |= Event.WRITABLE.bit();
            } else {
                account.awaitNetRoom(wake); // writable again once the task's sockets drain
            }
        }
        if (broken || eof && outputShut) {
            s |= Event.HANGUP.bit();
        }
        return s;
    }

    /**
     * The handle is gone. With bytes still queued the stream lingers, flushing them and then the FIN (as the host
     * does on close), for at most {@link NetStack#LINGER_NS}; otherwise it closes at once.
     */
    void close() {
        clearIn();
        if (broken) {
            return;
        }
        if (out.isEmpty()) {
            closeNow();
            return;
        }
        orphan = true;
        // A lingering stream still holds a host descriptor: it keeps a handle's place in its creator's quota
        // until it is done, so closing handles is no way to hold more sockets than limits.handles.
        account.charge(1, 0);
        outputShut = true;
        linger = net.reactor().schedule(NetStack.LINGER_NS, this::closeNow);
        updateInterest();
    }

    private void onReady() {
        if (broken || !key.isValid()) {
            return;
        }
        if (key.isReadable()) {
            readIn();
        }
        if (!broken && key.isValid() && key.isWritable()) {
            flush();
        }
        changed();
    }

    private void readIn() {
        for (int i = 0; i < READS_PER_EVENT && !eof && !broken; i++) {
            ByteBuffer buf = net.scratch();
            long room = orphan ? buf.capacity() : Math.min(net.bufferBytes() - in.size(), account.netRoom());
            if (room <= 0) {
                return;
            }
            buf.limit((int) Math.min(buf.capacity(), room));
            int n;
            try {
                n = ch.read(buf);
            } catch (IOException e) {
                fail(e);
                return;
            }
            if (n < 0) {
                eof = true;
            } else if (n > 0 && !orphan) { // an orphan reads only so that closing does not reset the peer
                byte[] b = new byte[n];
                buf.flip().get(b);
                in.add(b, 0, n);
                account.chargeNet(n);
            }
            if (n < buf.limit()) {
                return; // the host had no more for now
            }
        }
    }

    private void flush() {
        if (broken) {
            return;
        }
        try {
            for (long w; !out.isEmpty() && (w = out.writeTo(ch)) > 0; ) {
                account.releaseNet(w); // keep going while the host takes bytes
            }
            if (outputShut && out.isEmpty() && !finSent) {
                finSent = true;
                ch.shutdownOutput();
                if (orphan) {
                    closeNow();
                }
            }
        } catch (IOException e) {
            fail(e);
        }
    }

    private void fail(IOException e) {
        Status status = HostErrors.status(e);
        closeNow();
        owner.streamFailed(status == Status.ERR_IO || status == Status.ERR_TIMEOUT ? status : Status.ERR_CLOSED);
    }

    private void closeNow() {
        if (orphan && !broken) {
            account.release(1, 0);
        }
        broken = true;
        account.leaveNet(wake);
        account.releaseNet(out.size());
        out.clear(); // what was received stays readable (and charged) until read or the handle is closed
        if (linger != null) {
            linger.cancel();
        }
        try {
            ch.close(); // also cancels the key
        } catch (IOException e) {
            // nothing left to release
        }
    }

    /** Drops what was received and not read (its charge with it). */
    private void clearIn() {
        account.releaseNet(in.size());
        in.clear();
    }

    private void changed() {
        updateInterest();
        owner.changed();
    }

    /** Tells the selector only about mask changes. */
    private void updateInterest() {
        if (broken || !key.isValid()) {
            return;
        }
        int want = 0;
        if (!eof && (orphan || in.size() < net.bufferBytes())) {
            if (orphan || account.netRoom() > 0) {
                want |= SelectionKey.OP_READ;
            } else {
                account.awaitNetRoom(wake); // the task's sockets hold all they may: read on once they drain
            }
        }
        if (!out.isEmpty()) {
            want |= SelectionKey.OP_WRITE;
        }
        if (want != ops) {
            key.interestOps(want);
            ops = want;
        }
    }
}
