package io.ukernel.kernel.calls;

import io.ukernel.abi.Call;
import io.ukernel.abi.FrameCodec;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.KernelMetrics;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.Level;

/**
 * Turns one request of a task into one reply: the checks every call shares, in a fixed order — known call
 * number, argument signature, not reserved, capability held, implemented — then the handler. Frames in, replies
 * out, no sockets: unit tests drive it directly (like Netty's EmbeddedChannel).
 */
public final class Dispatcher {
    private final CallTable table;
    private final Console console;
    private final KernelMetrics metrics;

    public Dispatcher(CallTable table, Console console) {
        this(table, console, new KernelMetrics());
    }

    /** A dispatcher that counts calls, denials, connections and network bytes per task in {@code metrics}. */
    public Dispatcher(CallTable table, Console console, KernelMetrics metrics) {
        this.table = table;
        this.console = console;
        this.metrics = metrics;
    }

    /**
     * Serves {@code request} for {@code task}: the reply, or null when the call was parked and will be answered
     * later. Never throws for anything a worker can send.
     */
    public Frame.Reply dispatch(Task task, Frame.Request request) {
        Frame.Reply reply = serve(task, request);
        if (reply != null && reply.status() == Status.ERR_DENIED) {
            metrics.add(task.name(), KernelMetrics.Counter.DENIALS, 1);
        }
        return reply;
    }

    private Frame.Reply serve(Task task, Frame.Request request) {
        int seq = request.seq();
        Call call = Call.ofNumber(request.call());
        if (call == null || call == Call.HELLO) {
            return refuse(task, seq, request.call(), Status.ERR_INVAL,
                    call == null ? "no call has number " + request.call() : "hello was already done");
        }
        String mismatch = FrameCodec.checkSignature(call.args(), request.values());
        if (mismatch != null) {
            return refuse(task, seq, call, Status.ERR_INVAL, mismatch);
        }
        metrics.call(task.name(), call.family());
        if (call.reserved()) {
            return Frame.Reply.error(seq, Status.ERR_UNSUPPORTED);
        }
        if (call.cap() != null && !task.caps().active().has(call.cap())) {
            console.audit(task.name(), task.id(), Level.WARN, "cap.denied", call.abiName() + ": denied: needs "
                    + call.cap() + " (active " + task.caps().active() + "; call cap_acquire first"
                    + (task.caps().ceiling().has(call.cap()) ? ")" : ", and " + table.hints().grantForCall() + ")"));
            return Frame.Reply.error(seq, Status.ERR_DENIED);
        }
        var handler = table.handler(call);
        if (handler.isEmpty()) {
            return Frame.Reply.error(seq, Status.ERR_UNSUPPORTED);
        }
        return switch (handler.get().handle(task, new Args(seq, request.values()))) {
            case Outcome.Ok ok -> {
                count(task, call, ok);
                yield new Frame.Reply(seq, Status.OK, ok.results(), ok.granted());
            }
            case Outcome.Err err -> err.audited() ? quietly(task, seq, call, err.status(), err.reason())
                    : refuse(task, seq, call, err.status(), err.reason());
            case Outcome.Later later -> null;
        };
    }

    /** Connections and bytes, from the successful network calls' results. */
    private void count(Task task, Call call, Outcome.Ok ok) {
        switch (call) {
            case NET_CONNECT, NET_ACCEPT -> metrics.add(task.name(), KernelMetrics.Counter.CONNECTIONS, 1);
            case NET_SEND -> {
                if (!ok.results().isEmpty() && ok.results().getFirst() instanceof Value.I64 n) {
                    metrics.add(task.name(), KernelMetrics.Counter.BYTES_SENT, n.value());
                }
            }
            case NET_RECV -> {
                if (!ok.results().isEmpty() && ok.results().getFirst() instanceof Value.Bytes b) {
                    metrics.add(task.name(), KernelMetrics.Counter.BYTES_RECEIVED, b.value().length);
                }
            }
            default -> { }
        }
    }

    /**
     * An error reply with its console line: a denial or a bad handle is an audit line (WARN, {@code call.denied} /
     * {@code handle.bad}: what a worker tried beyond its authority), a quota reached a WARN {@code limit.reached}
     * line naming the limit, any other error a DEBUG line.
     */
    private Frame.Reply refuse(Task task, int seq, Object call, Status status, String reason) {
        String name = call instanceof Call c ? c.abiName() : "call " + call;
        switch (status) {
            case ERR_DENIED -> console.audit(task.name(), task.id(), Level.WARN, "call.denied", name + ": denied: "
                    + reason);
            case ERR_BADHANDLE -> console.audit(task.name(), task.id(), Level.WARN, "handle.bad", name
                    + ": bad handle: " + reason + " (handles are per task: a number from another task, a closed or"
                    + " a made-up one names nothing)");
            // A quota reached is the operator's business too: the reason names the limit and what to change.
            case ERR_LIMIT -> console.audit(task.name(), task.id(), Level.WARN, "limit.reached", name + ": " + reason);
            default -> console.audit(task.name(), task.id(), Level.DEBUG, "call.error", name + ": " + status + ": "
                    + reason);
        }
        return Frame.Reply.error(seq, status);
    }

    /** An error reply whose audit line the handler wrote; the DEBUG line only. */
    private Frame.Reply quietly(Task task, int seq, Object call, Status status, String reason) {
        String name = call instanceof Call c ? c.abiName() : "call " + call;
        console.audit(task.name(), task.id(), Level.DEBUG, "call.error", name + ": " + status + ": " + reason);
        return Frame.Reply.error(seq, status);
    }
}
