package io.ukernel.kernel.ipc;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Event;
import io.ukernel.kernel.handle.Account;
import io.ukernel.kernel.handle.KernelObject;
import io.ukernel.kernel.poll.Waitable;
import java.util.ArrayDeque;
import java.util.List;

/**
 * One endpoint of a channel. It owns its inbound queue (what the peer sent), bounded by {@code limits.channel_bytes}
 * (an empty queue always takes one message, so a maximum-size message can always travel). Signals: READABLE when
 * a message waits, WRITABLE when the peer's queue has room for a maximum-size message, HANGUP once the peer is
 * closed. Each queued message is charged to its sender's {@link Account} until it is taken or dropped. Reactor
 * thread only.
 */
public final class ChannelEnd extends Waitable {
    private static final int MAX_COST = Abi.MAX_MSG_BYTES + Message.OVERHEAD;

    private final ArrayDeque<Message> inbound = new ArrayDeque<>();
    private final long limit;
    private ChannelEnd peer;
    private long queued;

    private ChannelEnd(long limit) {
        this.limit = limit;
    }

    /** A connected pair of endpoints. */
    public static ChannelEnd[] pair(long limitBytes) {
        ChannelEnd a = new ChannelEnd(limitBytes);
        ChannelEnd b = new ChannelEnd(limitBytes);
        a.peer = b;
        b.peer = a;
        a.refresh();
        b.refresh();
        return new ChannelEnd[] {a, b};
    }

    /** Outcome of a send attempt. */
    public enum SendResult { SENT, FULL, PEER_CLOSED }

    /** What a message of {@code bytes} payload bytes costs against queue and account limits. */
    public static long cost(int bytes) {
        return bytes + (long) Message.OVERHEAD;
    }

    /**
     * Queues a message on the peer, taking ownership of {@code handles} and charging it to {@code sender} when it
     * is SENT (the caller checked the sender's limits).
     */
    public SendResult send(byte[] data, List<KernelObject> handles, Account sender) {
        if (peer == null) {
            return SendResult.PEER_CLOSED;
        }
        Message m = new Message(data, List.copyOf(handles), sender);
        if (!peer.hasRoomFor(m.cost())) {
            return SendResult.FULL;
        }
        m.charge();
        peer.inbound.add(m);
        peer.queued += m.cost();
        peer.refresh();
        refresh();
        return SendResult.SENT;
    }

    private boolean hasRoomFor(long cost) {
        return inbound.isEmpty() || queued + cost <= limit;
    }

    /** The next message, not yet taken (null when none). */
    public byte[] peekData() {
        Message m = inbound.peek();
        return m == null ? null : m.data();
    }

    /** How many handles the next message carries. */
    public int peekHandleCount() {
        Message m = inbound.peek();
        return m == null ? 0 : m.handles().size();
    }

    /** Whether the next message was sent by the task of {@code account} (its handles then free their own room). */
    public boolean peekSentBy(Account account) {
        Message m = inbound.peek();
        return m != null && m.sender().current() == account.current();
    }

    /** Takes the next message: its bytes and its objects (the caller installs them). */
    public Taken take() {
        Message m = inbound.poll();
        if (m == null) {
            return null;
        }
        m.release();
        queued -= m.cost();
        refresh();
        if (peer != null) {
            peer.refresh();
        }
        return new Taken(m.data(), m.handles());
    }

    /** A taken message. */
    public record Taken(byte[] data, List<KernelObject> handles) {}

    /** Bytes (payload plus per-message overhead) queued toward this endpoint: at most the limit, plus one message. */
    public long queuedBytes() {
        return queued;
    }

    /** Whether the peer has closed its end. */
    public boolean peerClosed() {
        return peer == null;
    }

    public boolean hasMessage() {
        return !inbound.isEmpty();
    }

    private void refresh() {
        int s = 0;
        if (!inbound.isEmpty()) {
            s |= Event.READABLE.bit();
        }
        if (peer == null) {
            s |= Event.HANGUP.bit();
        } else if (peer.hasRoomFor(MAX_COST)) {
            s |= Event.WRITABLE.bit();
        }
        signals(s);
    }

    @Override
    public String kind() {
        return "channel";
    }

    @Override
    protected void onClose() {
        ChannelEnd p = peer;
        peer = null;
        // Undelivered messages die with the endpoint, and the handles they carried with them: released from their
        // senders' accounts, and closed through Dropping's work list (ends nested in queues nested in queues
        // would otherwise close recursively, one stack frame per level).
        for (Message m; (m = inbound.poll()) != null; ) {
            m.release();
            Dropping.closeAll(m.handles());
        }
        queued = 0;
        if (p != null) {
            p.peer = null;
            p.refresh();
        }
    }
}
