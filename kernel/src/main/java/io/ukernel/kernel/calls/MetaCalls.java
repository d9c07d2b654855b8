package io.ukernel.kernel.calls;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.caps.CapabilitySet;
import io.ukernel.kernel.caps.TaskCaps;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.Level;
import io.ukernel.kernel.policy.PolicyHints;

/** {@code abi_version}, {@code cap_acquire}, {@code cap_drop}, {@code cap_query}, {@code handle_close}. */
final class MetaCalls {
    private final Console console;
    /** Shuts down the sockets a task's worker made itself (seccomp notification); returns how many. */
    private final java.util.function.ToIntFunction<Task> revokeOwnSockets;
    private final PolicyHints hints;

    MetaCalls(Console console, java.util.function.ToIntFunction<Task> revokeOwnSockets, PolicyHints hints) {
        this.console = console;
        this.revokeOwnSockets = revokeOwnSockets;
        this.hints = hints;
    }

    Outcome abiVersion(Task task, Args args) {
        return Outcome.ok(Value.of(Abi.VERSION));
    }

    Outcome capAcquire(Task task, Args args) {
        long mask = args.i64(0);
        if ((mask & ~Cap.ALL_MASK) != 0) {
            return Outcome.err(Status.ERR_INVAL, "unknown capability bits in " + Cap.format(mask));
        }
        return switch (task.caps().acquire(new CapabilitySet(mask))) {
            case TaskCaps.Acquire.Granted g -> {
                console.audit(task.name(), task.id(), Level.INFO, "cap.acquire", "caps: acquired "
                        + Cap.format(mask) + " (active " + task.caps().active() + ")");
                yield Outcome.ok(Value.of(task.caps().active().mask()));
            }
            case TaskCaps.Acquire.Denied d -> {
                console.audit(task.name(), task.id(), Level.WARN, "cap.denied", "caps: denied "
                        + Cap.format(mask) + ": " + d.missing() + " beyond this task's ceiling "
                        + task.caps().ceiling() + " (" + hints.grantForAcquire() + ")");
                yield Outcome.audited(Status.ERR_DENIED, d.missing() + " is beyond the ceiling");
            }
        };
    }

    Outcome capDrop(Task task, Args args) {
        long mask = args.i64(0);
        if ((mask & ~Cap.ALL_MASK) != 0) {
            return Outcome.err(Status.ERR_INVAL, "unknown capability bits in " + Cap.format(mask));
        }
        task.caps().drop(new CapabilitySet(mask));
        console.audit(task.name(), task.id(), Level.INFO, "cap.drop", "caps: dropped " + Cap.format(mask)
                + " for good (active " + task.caps().active() + ", ceiling " + task.caps().ceiling() + ")");
        if (!task.caps().active().has(Cap.NET)) {
            // A descriptor in the worker's hands is authority too: without NET it loses every granted socket.
            int n = task.handles().closeIf(o -> o.granted());
            if (n > 0) {
                console.audit(task.name(), task.id(), Level.INFO, "net.revoke", "cap_drop: " + n
                        + " granted socket(s) shut down (NET is no longer active)");
            }
            int own = revokeOwnSockets.applyAsInt(task);
            if (own > 0) {
                console.audit(task.name(), task.id(), Level.INFO, "net.revoke", "cap_drop: " + own
                        + " socket(s) the worker made itself shut down (NET is no longer active)");
            }
        }
        return Outcome.ok(Value.of(task.caps().active().mask()));
    }

    Outcome capQuery(Task task, Args args) {
        return Outcome.ok(Value.of(task.caps().active().mask()), Value.of(task.caps().ceiling().mask()));
    }

    Outcome handleClose(Task task, Args args) {
        long h = args.i64(0);
        task.handles().get(h, io.ukernel.kernel.net.NetSocket.class).filter(s -> s.granted())
                .ifPresent(s -> NetCalls.revokedLine(console, task, h, s, "closed"));
        return task.handles().close(h) ? Outcome.ok() : Outcome.err(Status.ERR_BADHANDLE, "no handle " + h);
    }
}
