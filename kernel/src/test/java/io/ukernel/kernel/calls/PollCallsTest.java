package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import io.ukernel.kernel.poll.Waitable;
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

    @Test
    void duplicateHandles_areCoalesced_oneWaiterPerObject_andReportedOnce() {
        long[] pairs = new long[2 * Abi.MAX_POLL_ITEMS];
        for (int i = 0; i < pairs.length; i += 2) {
            pairs[i] = b;
            pairs[i + 1] = i == 2 ? Event.WRITABLE.bit() : Event.READABLE.bit();
        }
        assertEquals(List.of(Value.of(b, Event.WRITABLE.bit())), poll(0, pairs).values(), "one pair, joined interest");
        for (int i = 1; i < pairs.length; i += 2) {
            pairs[i] = Event.READABLE.bit();
        }
        Waitable end = (Waitable) task.handles().get(b).orElseThrow();
        for (int p = 0; p < 10; p++) {
            assertNull(poll(-1, pairs));
        }
        // Ten polls naming one object 1024 times each: ten waiters, not ten thousand.
        assertEquals(10, end.waiterCount());
        k.call(task, Call.IPC_SEND, Value.of(a), Value.of(new byte[] {1}), Value.of());
        assertEquals(10, late.size());
        late.forEach(r -> assertEquals(List.of(Value.of(b, Event.READABLE.bit())), r.values()));
        assertEquals(0, end.waiterCount());
    }

    @Test
    void parkedPolls_beyondMaxParkedCalls_areLimit_andFreedSlotsCanBeReused() {
        for (int i = 0; i < Abi.MAX_PARKED_CALLS; i++) {
            assertNull(poll(-1, b, Event.READABLE.bit()));
        }
        Frame.Reply refused = poll(-1, b, Event.READABLE.bit());
        assertEquals(Status.ERR_LIMIT, refused.status());
        assertTrue(k.console().contains("MAX_PARKED_CALLS=" + Abi.MAX_PARKED_CALLS), k.console());
        assertEquals(List.of(Value.of(new long[0])), poll(0, b, Event.READABLE.bit()).values(),
                "a poll that does not wait is never limited");
        k.call(task, Call.IPC_SEND, Value.of(a), Value.of(new byte[] {1}), Value.of());
        assertEquals(Abi.MAX_PARKED_CALLS, late.size());
        assertEquals(0, task.parkedCount());
        k.call(task, Call.IPC_RECV, Value.of(b));
        assertNull(poll(-1, b, Event.READABLE.bit()));
    }

    @Test
    void pollsCompletedLongBeforeTheirDeadline_leaveNoTimersBehind() {
        long year = 365L * 24 * 3600 * 1_000_000_000L;
        int polls = 10_000;
        for (int i = 0; i < polls; i++) {
            assertNull(poll(year, b, Event.READABLE.bit()));
            k.call(task, Call.IPC_SEND, Value.of(a), Value.of(new byte[] {1}), Value.of());
            k.call(task, Call.IPC_RECV, Value.of(b));
        }
        assertEquals(polls, late.size());
        assertTrue(k.reactor.queuedTimers() <= 2 * 64 + 1, k.reactor.queuedTimers() + " dead timers kept");
    }
}
