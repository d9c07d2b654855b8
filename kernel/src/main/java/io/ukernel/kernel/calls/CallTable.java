package io.ukernel.kernel.calls;

import io.ukernel.abi.Call;
import io.ukernel.kernel.KernelClock;
import io.ukernel.kernel.console.Console;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * The kernel's call table, declared in one place: which handler serves each ABI call. A call absent from the
 * table answers {@code ERR_UNSUPPORTED} (until the issue that implements its family lands); {@code hello} is
 * served by the transport because it binds a connection rather than acting for a task.
 */
public final class CallTable {
    private final Map<Call, CallHandler> handlers;

    private CallTable(Map<Call, CallHandler> handlers) {
        this.handlers = handlers;
    }

    /** The table of this kernel version. */
    public static CallTable v1(Console console, KernelClock clock) {
        MetaCalls meta = new MetaCalls(console);
        LogCalls log = new LogCalls(console);
        TimeCalls time = new TimeCalls(clock);
        TaskCalls task = new TaskCalls();
        Map<Call, CallHandler> t = new EnumMap<>(Call.class);
        t.put(Call.ABI_VERSION, meta::abiVersion);
        t.put(Call.CAP_ACQUIRE, meta::capAcquire);
        t.put(Call.CAP_DROP, meta::capDrop);
        t.put(Call.CAP_QUERY, meta::capQuery);
        t.put(Call.HANDLE_CLOSE, meta::handleClose);
        t.put(Call.LOG_WRITE, log::write);
        t.put(Call.TIME_MONOTONIC_NS, time::monotonicNs);
        t.put(Call.TIME_WALL_NS, time::wallNs);
        t.put(Call.TASK_SELF, task::self);
        t.put(Call.TASK_YIELD, task::yield);
        t.put(Call.TASK_EXIT, task::exit);
        return new CallTable(t);
    }

    /** The handler of {@code call}, or empty when this kernel does not implement it. */
    public Optional<CallHandler> handler(Call call) {
        return Optional.ofNullable(handlers.get(call));
    }

    /** Whether {@code call} is implemented. */
    public boolean implemented(Call call) {
        return handlers.containsKey(call);
    }
}
