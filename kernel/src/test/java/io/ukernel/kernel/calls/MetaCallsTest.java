package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Call;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.caps.CapabilitySet;
import org.junit.jupiter.api.Test;

class MetaCallsTest {
    final CallHarness k = new CallHarness();
    final Task task = TestTasks.task(1, "main", CapabilitySet.of(Cap.LOG, Cap.TIME));

    @Test
    void abiVersion_isMajorShiftedPlusMinor() {
        assertEquals(Frame.Reply.ok(1, Value.of(Abi.VERSION)), k.call(task, Call.ABI_VERSION));
    }

    @Test
    void capAcquire_withinCeiling_returnsNewActiveSet_andIsAudited() {
        Frame.Reply r = k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.LOG.bit()));
        assertEquals(Status.OK, r.status());
        assertEquals(Value.of(Cap.LOG.bit()), r.values().get(0));
        assertTrue(k.console().contains("caps: acquired LOG (active LOG)"), k.console());
    }

    @Test
    void capAcquire_beyondPolicy_isDenied_andAcquiresNothing() {
        Frame.Reply r = k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.LOG.bit() | Cap.NET.bit()));
        assertEquals(Status.ERR_DENIED, r.status());
        assertEquals(CapabilitySet.NONE, task.caps().active());
        assertTrue(k.console().contains("caps: denied LOG|NET: NET beyond this task's ceiling LOG|TIME"),
                k.console());
    }

    @Test
    void capAcquire_unknownBits_isInval() {
        assertEquals(Status.ERR_INVAL, k.call(task, Call.CAP_ACQUIRE, Value.of(1L << 40)).status());
    }

    @Test
    void capDrop_isIrrevocable() {
        k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.LOG.bit() | Cap.TIME.bit()));
        Frame.Reply dropped = k.call(task, Call.CAP_DROP, Value.of(Cap.TIME.bit()));
        assertEquals(Value.of(Cap.LOG.bit()), dropped.values().get(0));
        assertEquals(Status.ERR_DENIED, k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.TIME.bit())).status());
        assertEquals(Status.ERR_DENIED, k.call(task, Call.TIME_MONOTONIC_NS).status());
    }

    @Test
    void capQuery_returnsActiveAndCeiling() {
        k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.TIME.bit()));
        assertEquals(Frame.Reply.ok(2, Value.of(Cap.TIME.bit()), Value.of(Cap.LOG.bit() | Cap.TIME.bit())),
                k.call(task, Call.CAP_QUERY));
    }

    @Test
    void handleClose_ofUnknownHandle_isBadHandle() {
        assertEquals(Status.ERR_BADHANDLE, k.call(task, Call.HANDLE_CLOSE, Value.of(3)).status());
    }
}
