package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ukernel.abi.Call;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.caps.CapabilitySet;
import java.util.List;
import org.junit.jupiter.api.Test;

class TaskCallsTest {
    final CallHarness k = new CallHarness();
    final Task task = TestTasks.task(7, "consumer", CapabilitySet.NONE);

    @Test
    void self_needsNoCapability() {
        assertEquals(Frame.Reply.ok(1, Value.of(7), Value.of("consumer")), k.call(task, Call.TASK_SELF));
    }

    @Test
    void yield_answersAtOnce() {
        assertEquals(Status.OK, k.call(task, Call.TASK_YIELD).status());
    }

    @Test
    void exit_recordsTheCode() {
        assertEquals(Status.OK, k.call(task, Call.TASK_EXIT, Value.of(3)).status());
        assertEquals(3, task.requestedExit());
    }

    @Test
    void spawn_ofAnUndeclaredEntry_isNotFound() {
        Task parent = parent();
        assertEquals(Status.ERR_NOTFOUND, k.call(parent, Call.TASK_SPAWN, Value.of("ghost"), Value.of(0),
                Value.of()).status());
    }

    @Test
    void spawn_beyondTheCallersActiveCaps_isDenied() {
        Task parent = parent();
        assertEquals(Status.ERR_DENIED, k.call(parent, Call.TASK_SPAWN, Value.of("child"),
                Value.of(io.ukernel.abi.Cap.NET.bit()), Value.of()).status());
    }

    @Test
    void spawn_givesAtMostTheCallersCaps_andATaskHandleThatTurnsReadableOnExit() {
        Task parent = parent();
        Frame.Reply r = k.call(parent, Call.TASK_SPAWN, Value.of("child"), Value.of(io.ukernel.abi.Cap.LOG.bit()),
                Value.of());
        assertEquals(Status.OK, r.status());
        long h = ((Value.I64) r.values().get(0)).value();
        Task child = k.tasks.spawned.get(0);
        assertEquals(CapabilitySet.of(io.ukernel.abi.Cap.LOG), child.caps().ceiling());
        assertEquals(Frame.Reply.ok(3, Value.of(io.ukernel.abi.TaskState.RUNNING.value()), Value.of(0)),
                k.call(parent, Call.TASK_STATUS, Value.of(h)));
        io.ukernel.kernel.TestTasks.exit(child, 7);
        assertEquals(List.of(Value.of(h, io.ukernel.abi.Event.READABLE.bit())),
                k.call(parent, Call.IO_POLL, Value.of(h, 1), Value.of(0)).values());
        assertEquals(Frame.Reply.ok(5, Value.of(io.ukernel.abi.TaskState.EXITED.value()), Value.of(7)),
                k.call(parent, Call.TASK_STATUS, Value.of(h)));
    }

    @Test
    void spawn_pastTheTaskLimit_isLimit_andMovesNothing() {
        Task parent = parent();
        k.tasks.limit = 0;
        assertEquals(Status.ERR_LIMIT, k.call(parent, Call.TASK_SPAWN, Value.of("child"), Value.of(0),
                Value.of()).status());
    }

    @Test
    void status_ofANonTaskHandle_isBadHandle() {
        Task parent = parent();
        assertEquals(Status.ERR_BADHANDLE, k.call(parent, Call.TASK_STATUS, Value.of(1)).status());
    }

    private Task parent() {
        long all = io.ukernel.abi.Cap.LOG.bit() | io.ukernel.abi.Cap.TASK.bit();
        Task parent = TestTasks.task(1, "main", new CapabilitySet(all));
        k.call(parent, Call.CAP_ACQUIRE, Value.of(all));
        k.tasks.declared.add(new io.ukernel.kernel.policy.Policy.TaskSpec("child", "src/child.py", all, false,
                io.ukernel.kernel.policy.Policy.RestartPolicy.never()));
        return parent;
    }
}
