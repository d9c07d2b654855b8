package io.ukernel.kernel.calls;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.handle.HandleTable;
import io.ukernel.kernel.handle.KernelObject;
import io.ukernel.kernel.ipc.ChannelEnd;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** {@code ipc_channel_create}, {@code ipc_send}, {@code ipc_recv}, {@code ipc_close}. */
final class IpcCalls {
    private final long channelBytes;

    IpcCalls(long channelBytes) {
        this.channelBytes = channelBytes;
    }

    Outcome create(Task task, Args args) {
        HandleTable table = task.handles();
        if (table.limit() - table.size() < 2) {
            return Outcome.err(Status.ERR_LIMIT, "no room for two handles (limits.handles=" + table.limit() + ")");
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
            objects.add(o.get());
        }
        return switch (end.get().send(data, objects)) {
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
        if (table.limit() - table.size() < e.peekHandleCount()) {
            return Outcome.err(Status.ERR_LIMIT, "no room for the " + e.peekHandleCount() + " handles it carries");
        }
        ChannelEnd.Taken m = e.take();
        long[] numbers = new long[m.handles().size()];
        for (int i = 0; i < numbers.length; i++) {
            numbers[i] = table.install(m.handles().get(i)).orElseThrow();
        }
        return Outcome.ok(Value.of(m.data()), Value.of(numbers));
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
