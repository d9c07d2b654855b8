package io.ukernel.kernel.calls;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.handle.Account;
import io.ukernel.kernel.handle.HandleTable;
import io.ukernel.kernel.handle.KernelObject;
import io.ukernel.kernel.ipc.ChannelEnd;
import io.ukernel.kernel.policy.PolicyHints;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * {@code ipc_channel_create}, {@code ipc_send}, {@code ipc_recv}, {@code ipc_close}. A message sent is charged to
 * the sender until it is received ({@link io.ukernel.kernel.handle.Account}): its handles keep counting against the
 * sender's {@code limits.handles} and its bytes against {@code limits.queued_bytes}, so queues are no way around
 * either limit, however ends are moved or nested.
 */
final class IpcCalls {
    private final long channelBytes;
    private final PolicyHints hints;

    IpcCalls(long channelBytes, PolicyHints hints) {
        this.hints = hints;
        this.channelBytes = channelBytes;
    }

    Outcome create(Task task, Args args) {
        HandleTable table = task.handles();
        if (table.room() < 2) {
            return Outcome.err(Status.ERR_LIMIT, "no room for two handles: " + usage(table, hints));
        }
        ChannelEnd[] ends = ChannelEnd.pair(channelBytes);
        long h0 = table.install(ends[0]).orElseThrow();
        long h1 = table.install(ends[1]).orElseThrow();
        return Outcome.ok(Value.of(h0), Value.of(h1));
    }

    /** Moves the listed handles with the bytes, all or none. */
    Outcome send(Task task, Args args) {
        long h = args.i64(0);
        byte[] data = args.bytes(1);
        long[] handles = args.i64s(2);
        Optional<ChannelEnd> end = task.handles().get(h, ChannelEnd.class);
        if (end.isEmpty()) {
            return Outcome.err(Status.ERR_BADHANDLE, "handle " + h + " is not a channel endpoint");
        }
        if (data.length > Abi.MAX_MSG_BYTES || handles.length > Abi.MAX_MSG_HANDLES) {
            return Outcome.err(Status.ERR_TOOBIG, data.length + " bytes / " + handles.length
                    + " handles exceed the message limits");
        }
        Set<Long> seen = new HashSet<>();
        List<KernelObject> objects = new ArrayList<>(handles.length);
        for (long x : handles) {
            if (x == h) {
                return Outcome.err(Status.ERR_INVAL, "a channel endpoint cannot travel through itself");
            }
            Optional<KernelObject> o = task.handles().get(x);
            if (o.isEmpty() || !seen.add(x)) {
                return Outcome.err(Status.ERR_BADHANDLE, "handle " + x + " is not open or is listed twice");
            }
            if (o.get().granted()) {
                return Outcome.err(Status.ERR_BUSY, "handle " + x + " is a granted socket: its descriptor is in"
                        + " this worker's hands, so the handle cannot move to another task");
            }
            objects.add(o.get());
        }
        Account account = task.handles().account();
        if (!account.bytesFit(ChannelEnd.cost(data.length))) {
            return Outcome.err(Status.ERR_LIMIT, "this task has " + account.bytes() + " bytes in messages nobody"
                    + " received yet; " + data.length + " more exceed limits.queued_bytes=" + account.byteLimit()
                    + " (" + hints.raiseLimit("limits.queued_bytes") + ", or let the receivers catch up)");
        }
        return switch (end.get().send(data, objects, account)) {
            case SENT -> {
                for (long x : handles) {
                    task.handles().remove(x);
                }
                yield Outcome.ok();
            }
            case FULL -> Outcome.err(Status.ERR_WOULDBLOCK, "the peer's queue is full");
            case PEER_CLOSED -> Outcome.err(Status.ERR_CLOSED, "the peer endpoint is closed");
        };
    }

    /** Takes the next message; its handles are installed in the caller's table (all, or the message stays). */
    Outcome recv(Task task, Args args) {
        long h = args.i64(0);
        Optional<ChannelEnd> end = task.handles().get(h, ChannelEnd.class);
        if (end.isEmpty()) {
            return Outcome.err(Status.ERR_BADHANDLE, "handle " + h + " is not a channel endpoint");
        }
        ChannelEnd e = end.get();
        if (!e.hasMessage()) {
            return e.peerClosed() ? Outcome.err(Status.ERR_CLOSED, "peer closed and queue drained")
                    : Outcome.err(Status.ERR_WOULDBLOCK, "no message");
        }
        HandleTable table = task.handles();
        // A message this task sent itself frees, when taken, the room its handles held in flight.
        long room = table.room() + (e.peekSentBy(table.account()) ? e.peekHandleCount() : 0);
        if (room < e.peekHandleCount()) {
            return Outcome.err(Status.ERR_LIMIT, "no room for the " + e.peekHandleCount() + " handles it carries: "
                    + usage(table, hints));
        }
        ChannelEnd.Taken m = e.take();
        long[] numbers = new long[m.handles().size()];
        for (int i = 0; i < numbers.length; i++) {
            numbers[i] = table.install(m.handles().get(i)).orElseThrow();
        }
        return Outcome.ok(Value.of(m.data()), Value.of(numbers));
    }

    /**
     * (1.2) {@code ipc_send_many}: a run of messages, each checked as {@code ipc_send} would; the whole call is
     * refused when any message is malformed or names a handle it cannot move, else the longest prefix that fits the
     * peer's queue and the sender's {@code limits.queued_bytes} is queued and its length returned. A refusal of the
     * first message is the call's error, so a sender learns WOULDBLOCK/CLOSED/LIMIT exactly as from ipc_send.
     */
    Outcome sendMany(Task task, Args args) {
        long h = args.i64(0);
        byte[] data = args.bytes(1);
        long[] lengths = args.i64s(2);
        long[] counts = args.i64s(3);
        long[] handles = args.i64s(4);
        Optional<ChannelEnd> end = task.handles().get(h, ChannelEnd.class);
        if (end.isEmpty()) {
            return Outcome.err(Status.ERR_BADHANDLE, "handle " + h + " is not a channel endpoint");
        }
        int n = lengths.length;
        if (n == 0 || n > Abi.MAX_BATCH_MSGS) {
            return Outcome.err(n == 0 ? Status.ERR_INVAL : Status.ERR_TOOBIG, n + " messages in one ipc_send_many"
                    + " (1 to " + Abi.MAX_BATCH_MSGS + ")");
        }
        if (counts.length != 0 && counts.length != n) {
            return Outcome.err(Status.ERR_INVAL, "handle counts list " + counts.length + " entries for " + n
                    + " messages (give one per message, or none when no message moves handles)");
        }
        long bytes = 0;
        long moved = 0;
        for (int i = 0; i < n; i++) {
            long c = counts.length == 0 ? 0 : counts[i];
            if (lengths[i] < 0 || c < 0) {
                return Outcome.err(Status.ERR_INVAL, "message " + i + " has a negative length or handle count");
            }
            if (lengths[i] > Abi.MAX_MSG_BYTES || c > Abi.MAX_MSG_HANDLES) {
                return Outcome.err(Status.ERR_TOOBIG, "message " + i + ": " + lengths[i] + " bytes / " + c
                        + " handles exceed the message limits");
            }
            bytes += lengths[i];
            moved += c;
        }
        if (bytes != data.length || moved != handles.length) {
            return Outcome.err(Status.ERR_INVAL, "the lengths add up to " + bytes + " bytes and the counts to "
                    + moved + " handles, but " + data.length + " bytes and " + handles.length + " handles came");
        }
        Set<Long> seen = new HashSet<>();
        KernelObject[] objects = new KernelObject[handles.length];
        for (int j = 0; j < handles.length; j++) {
            long x = handles[j];
            if (x == h) {
                return Outcome.err(Status.ERR_INVAL, "a channel endpoint cannot travel through itself");
            }
            Optional<KernelObject> o = task.handles().get(x);
            if (o.isEmpty() || !seen.add(x)) {
                return Outcome.err(Status.ERR_BADHANDLE, "handle " + x + " is not open or is listed twice");
            }
            if (o.get().granted()) {
                return Outcome.err(Status.ERR_BUSY, "handle " + x + " is a granted socket: its descriptor is in"
                        + " this worker's hands, so the handle cannot move to another task");
            }
            objects[j] = o.get();
        }
        Account account = task.handles().account();
        ChannelEnd e = end.get();
        int offset = 0;
        int at = 0;
        for (int i = 0; i < n; i++) {
            int len = (int) lengths[i];
            int c = counts.length == 0 ? 0 : (int) counts[i];
            Outcome refused = null;
            if (!account.bytesFit(ChannelEnd.cost(len))) {
                refused = Outcome.err(Status.ERR_LIMIT, "this task has " + account.bytes() + " bytes in messages"
                        + " nobody received yet; " + len + " more exceed limits.queued_bytes=" + account.byteLimit()
                        + " (" + hints.raiseLimit("limits.queued_bytes") + ", or let the receivers catch up)");
            } else {
                byte[] payload = n == 1 ? data : java.util.Arrays.copyOfRange(data, offset, offset + len);
                List<KernelObject> carried = c == 0 ? List.of() : List.of(objects).subList(at, at + c);
                switch (e.send(payload, carried, account)) {
                    case SENT -> {
                        for (int j = at; j < at + c; j++) {
                            task.handles().remove(handles[j]);
                        }
                    }
                    case FULL -> refused = Outcome.err(Status.ERR_WOULDBLOCK, "the peer's queue is full");
                    case PEER_CLOSED -> refused = Outcome.err(Status.ERR_CLOSED, "the peer endpoint is closed");
                }
            }
            if (refused != null) {
                return i == 0 ? refused : Outcome.ok(Value.of(i));
            }
            offset += len;
            at += c;
        }
        return Outcome.ok(Value.of(n));
    }

    /**
     * (1.2) {@code ipc_recv_many}: the oldest queued messages, as many as {@code max_msgs}, the byte budget (the
     * first message is taken whole whatever its size) and the caller's handle quota allow, in one reply: the payloads
     * back to back, their lengths, their handle counts and the installed handle numbers.
     */
    Outcome recvMany(Task task, Args args) {
        long h = args.i64(0);
        long maxMsgs = args.i64(1);
        long maxBytes = args.i64(2);
        Optional<ChannelEnd> end = task.handles().get(h, ChannelEnd.class);
        if (end.isEmpty()) {
            return Outcome.err(Status.ERR_BADHANDLE, "handle " + h + " is not a channel endpoint");
        }
        if (maxMsgs < 1 || maxBytes < 0) {
            return Outcome.err(Status.ERR_INVAL, "max_msgs must be at least 1 and max_bytes at least 0, got "
                    + maxMsgs + " and " + maxBytes);
        }
        int most = (int) Math.min(maxMsgs, Abi.MAX_BATCH_MSGS);
        long budget = Math.min(maxBytes, Abi.MAX_BATCH_BYTES);
        ChannelEnd e = end.get();
        if (!e.hasMessage()) {
            return e.peerClosed() ? Outcome.err(Status.ERR_CLOSED, "peer closed and queue drained")
                    : Outcome.err(Status.ERR_WOULDBLOCK, "no message");
        }
        HandleTable table = task.handles();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        long[] lengths = new long[most];
        long[] counts = new long[most];
        long[] numbers = new long[0];
        int taken = 0;
        int installed = 0;
        long total = 0;
        boolean anyHandles = false;
        while (taken < most && e.hasMessage()) {
            int size = e.peekData().length;
            int c = e.peekHandleCount();
            if (taken > 0 && (total + size > budget || installed + c > Abi.MAX_BATCH_HANDLES)) {
                break;
            }
            long room = table.room() + (e.peekSentBy(table.account()) ? c : 0);
            if (room < c) {
                if (taken == 0) {
                    return Outcome.err(Status.ERR_LIMIT, "no room for the " + c + " handles it carries: "
                            + usage(table, hints));
                }
                break;
            }
            ChannelEnd.Taken m = e.take();
            out.write(m.data(), 0, m.data().length);
            lengths[taken] = m.data().length;
            counts[taken] = c;
            if (c > 0) {
                anyHandles = true;
                if (numbers.length < installed + c) {
                    numbers = java.util.Arrays.copyOf(numbers, Math.max(2 * numbers.length, installed + c));
                }
                for (KernelObject o : m.handles()) {
                    numbers[installed++] = table.install(o).orElseThrow();
                }
            }
            total += size;
            taken++;
        }
        return Outcome.ok(Value.of(out.toByteArray()), Value.of(java.util.Arrays.copyOf(lengths, taken)),
                Value.of(anyHandles ? java.util.Arrays.copyOf(counts, taken) : new long[0]),
                Value.of(java.util.Arrays.copyOf(numbers, installed)));
    }

    /** How a table stands against {@code limits.handles}, for ERR_LIMIT reasons. */
    static String usage(HandleTable table, PolicyHints hints) {
        return table.size() + " open + " + table.account().handles() + " sent in messages not yet received, of "
                + "limits.handles=" + table.limit() + " (" + hints.raiseLimit("limits.handles") + ", or close handles)";
    }

    Outcome close(Task task, Args args) {
        long h = args.i64(0);
        if (task.handles().get(h, ChannelEnd.class).isEmpty()) {
            return Outcome.err(Status.ERR_BADHANDLE, "handle " + h + " is not a channel endpoint");
        }
        task.handles().close(h);
        return Outcome.ok();
    }
}
