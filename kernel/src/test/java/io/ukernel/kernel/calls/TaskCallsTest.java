package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ukernel.abi.Call;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.caps.CapabilitySet;
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
    void callsOfLaterIssues_areUnsupported_notDenied() {
        Task all = TestTasks.task(8, "x", new CapabilitySet(io.ukernel.abi.Cap.ALL_MASK));
        k.call(all, Call.CAP_ACQUIRE, Value.of(io.ukernel.abi.Cap.ALL_MASK));
        assertEquals(Status.ERR_UNSUPPORTED, k.call(all, Call.IPC_CHANNEL_CREATE).status());
    }
}
