package io.ukernel.kernel.calls;

import io.ukernel.abi.Call;
import io.ukernel.kernel.KernelContext;
import java.util.EnumMap;
import java.util.Map;
import io.ukernel.kernel.policy.PolicyHints;
import java.util.Optional;

/**
 * The kernel's call table, declared in one place: which handler serves each ABI call. A call absent from the
 * table answers {@code ERR_UNSUPPORTED} (until the issue that implements its family lands); {@code hello} is
 * served by the transport because it binds a connection rather than acting for a task.
 */
public final class CallTable {
    private final Map<Call, CallHandler> handlers;
    private final PolicyHints hints;

    private CallTable(Map<Call, CallHandler> handlers, PolicyHints hints) {
        this.hints = hints;
        this.handlers = handlers;
    }

    /** The table of this kernel version. */
    public static CallTable v1(KernelContext ctx) {
        NotifyCalls notify = new NotifyCalls(ctx);
        MetaCalls meta = new MetaCalls(ctx.console(), notify::revoke, ctx.policy().hints());
        LogCalls log = new LogCalls(ctx.console());
        TimeCalls time = new TimeCalls(ctx.clock());
        TaskCalls task = new TaskCalls(ctx.tasks(), ctx.policy().hints());
        PollCalls poll = new PollCalls(ctx.reactor());
        IpcCalls ipc = new IpcCalls(ctx.policy().limits().channelBytes(), ctx.policy().hints());
        NetCalls net = new NetCalls(ctx);
        IoCalls io = new IoCalls(ctx);
        Map<Call, CallHandler> t = new EnumMap<>(Call.class);
        t.put(Call.ABI_VERSION, meta::abiVersion);
        t.put(Call.CAP_ACQUIRE, meta::capAcquire);
        t.put(Call.CAP_DROP, meta::capDrop);
        t.put(Call.CAP_QUERY, meta::capQuery);
        t.put(Call.HANDLE_CLOSE, meta::handleClose);
        t.put(Call.SANDBOX_NOTIFY, notify::sandboxNotify);
        t.put(Call.LOG_WRITE, log::write);
        t.put(Call.TIME_MONOTONIC_NS, time::monotonicNs);
        t.put(Call.TIME_WALL_NS, time::wallNs);
        t.put(Call.TASK_SELF, task::self);
        t.put(Call.TASK_YIELD, task::yield);
        t.put(Call.TASK_SPAWN, task::spawn);
        t.put(Call.TASK_EXIT, task::exit);
        t.put(Call.TASK_STATUS, task::status);
        t.put(Call.IPC_CHANNEL_CREATE, ipc::create);
        t.put(Call.IPC_SEND, ipc::send);
        t.put(Call.IPC_RECV, ipc::recv);
        t.put(Call.IPC_CLOSE, ipc::close);
        t.put(Call.IPC_SEND_MANY, ipc::sendMany);
        t.put(Call.IPC_RECV_MANY, ipc::recvMany);
        t.put(Call.NET_SOCKET, net::socket);
        t.put(Call.NET_BIND, net::bind);
        t.put(Call.NET_LISTEN, net::listen);
        t.put(Call.NET_ACCEPT, net::accept);
        t.put(Call.NET_CONNECT, net::connect);
        t.put(Call.NET_SEND, net::send);
        t.put(Call.NET_RECV, net::recv);
        t.put(Call.NET_SHUTDOWN, net::shutdown);
        t.put(Call.NET_CLOSE, net::close);
        t.put(Call.NET_ADDR, net::addr);
        t.put(Call.NET_ERROR, net::error);
        t.put(Call.NET_SENDTO, net::sendto);
        t.put(Call.NET_RECVFROM, net::recvfrom);
        t.put(Call.IO_OPEN, io::open);
        t.put(Call.IO_READ, io::read);
        t.put(Call.IO_WRITE, io::write);
        t.put(Call.IO_SEEK, io::seek);
        t.put(Call.IO_STAT, io::stat);
        t.put(Call.IO_CLOSE, io::close);
        t.put(Call.IO_POLL, poll::poll);
        return new CallTable(t, ctx.policy().hints());
    }

    /** The handler of {@code call}, or empty when this kernel does not implement it. */
    /** How refusals word their remedy (the policy's). */
    public PolicyHints hints() {
        return hints;
    }

    public Optional<CallHandler> handler(Call call) {
        return Optional.ofNullable(handlers.get(call));
    }

    /** Whether {@code call} is implemented. */
    public boolean implemented(Call call) {
        return handlers.containsKey(call);
    }
}
