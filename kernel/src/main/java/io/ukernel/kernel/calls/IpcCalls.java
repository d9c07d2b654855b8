package io.ukernel.kernel.calls;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.handle.Account;
import io.ukernel.kernel.handle.HandleTable;
import io.ukernel.kernel.handle.KernelObject;
import io.ukernel.kernel.ipc.ChannelEnd;
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

    IpcCalls(long channelBytes) {
        this.channelBytes = channelBytes;
    }

    Outcome create(Task task, Args args) {
        HandleTable table = task.handles();
        if (table.room() < 2) {
            return Outcome.err(Status.ERR_LIMIT, "no room for two handles: " + usage(table));
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
                    + " (raise it in ukernel.toml [limits], or let the receivers catch up)");
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
                    + usage(table));
        }
        ChannelEnd.Taken m = e.take();
        long[] numbers = new long[m.handles().size()];
        for (int i = 0; i < numbers.length; i++) {
            numbers[i] = table.install(m.handles().get(i)).orElseThrow();
        }
        return Outcome.ok(Value.of(m.data()), Value.of(numbers));
    }

    /** How a table stands against {@code limits.handles}, for ERR_LIMIT reasons. */
    static String usage(HandleTable table) {
        return table.size() + " open + " + table.account().handles() + " sent in messages not yet received, of "
                + "limits.handles=" + table.limit() + " (raise it in ukernel.toml [limits], or close handles)";
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
