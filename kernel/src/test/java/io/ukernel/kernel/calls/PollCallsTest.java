package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Call;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Event;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.caps.CapabilitySet;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PollCallsTest {
    final CallHarness k = new CallHarness();
    final List<Frame.Reply> late = new ArrayList<>();
    final Task task = TestTasks.task(1, "main", CapabilitySet.of(Cap.IPC), late);
    long a;
    long b;

    @BeforeEach
    void channel() {
        k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.IPC.bit()));
        Frame.Reply r = k.call(task, Call.IPC_CHANNEL_CREATE);
        a = ((Value.I64) r.values().get(0)).value();
        b = ((Value.I64) r.values().get(1)).value();
    }

    Frame.Reply poll(long timeoutNs, long... pairs) {
        return k.call(task, Call.IO_POLL, Value.of(pairs), Value.of(timeoutNs));
    }

    @Test
    void timeoutZero_pollsAndReturnsOnlyReadyHandles() {
        assertEquals(List.of(Value.of(new long[0])), poll(0, b, Event.READABLE.bit()).values());
        assertEquals(List.of(Value.of(a, Event.WRITABLE.bit())),
                poll(0, a, Event.WRITABLE.bit(), b, Event.READABLE.bit()).values());
    }

    @Test
    void nothingReady_parksTheCall_andASignalChangeAnswersIt() {
        assertNull(poll(-1, b, Event.READABLE.bit()), "parked: no reply now");
        int seq = 3; // acquire=1, create=2, poll=3
        k.call(task, Call.IPC_SEND, Value.of(a), Value.of(new byte[] {1}), Value.of());
        assertEquals(List.of(Frame.Reply.ok(seq, Value.of(b, Event.READABLE.bit()))), late);
    }

    @Test
    void parkedPoll_isAnsweredOnce_evenIfMoreSignalsChange() {
        poll(-1, b, Event.READABLE.bit());
        k.call(task, Call.IPC_SEND, Value.of(a), Value.of(new byte[] {1}), Value.of());
        k.call(task, Call.IPC_SEND, Value.of(a), Value.of(new byte[] {2}), Value.of());
        k.call(task, Call.IPC_CLOSE, Value.of(a));
        assertEquals(1, late.size());
    }

    @Test
    void closingAPolledHandle_reportsErrorForIt() {
        poll(-1, b, Event.READABLE.bit());
        k.call(task, Call.IPC_CLOSE, Value.of(b));
        assertEquals(List.of(Frame.Reply.ok(3, Value.of(b, Event.ERROR.bit()))), late);
    }

    @Test
    void peerClosing_reportsHangup_evenWhenNotAskedFor() {
        poll(-1, b, Event.READABLE.bit());
        k.call(task, Call.IPC_CLOSE, Value.of(a));
        assertEquals(List.of(Frame.Reply.ok(3, Value.of(b, Event.HANGUP.bit()))), late);
    }

    @Test
    void badHandle_isReportedAsError_notAFailedPoll() {
        assertEquals(List.of(Value.of(99, Event.ERROR.bit())), poll(-1, 99, Event.READABLE.bit()).values());
    }

    @Test
    void taskEnding_dropsItsParkedPolls() {
        poll(-1, b, Event.READABLE.bit());
        TestTasks.exit(task, 0);
        assertEquals(List.of(), late);
    }

    @Test
    void badArguments_areInvalOrTooBig() {
        assertEquals(Status.ERR_INVAL, poll(0, a).status());
        assertEquals(Status.ERR_INVAL, poll(0, a, 1 << 8).status());
        assertEquals(Status.ERR_TOOBIG, poll(0, new long[2 * (Abi.MAX_POLL_ITEMS + 1)]).status());
    }
}
