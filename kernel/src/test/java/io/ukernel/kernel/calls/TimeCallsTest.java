package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ukernel.abi.Call;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.caps.CapabilitySet;
import org.junit.jupiter.api.Test;

class TimeCallsTest {
    final CallHarness k = new CallHarness();
    final Task task = TestTasks.task(1, "main", CapabilitySet.of(Cap.TIME));

    @Test
    void clocks_needTime() {
        assertEquals(Status.ERR_DENIED, k.call(task, Call.TIME_MONOTONIC_NS).status());
        assertEquals(Status.ERR_DENIED, k.call(task, Call.TIME_WALL_NS).status());
    }

    @Test
    void monotonic_isTheKernelClock() {
        k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.TIME.bit()));
        k.clock.advance(42);
        assertEquals(Frame.Reply.ok(2, Value.of(42)), k.call(task, Call.TIME_MONOTONIC_NS));
        assertEquals(Value.of(k.clock.wallNs()), k.call(task, Call.TIME_WALL_NS).values().get(0));
    }
}
