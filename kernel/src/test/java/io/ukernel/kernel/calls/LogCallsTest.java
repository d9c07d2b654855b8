package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Call;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.caps.CapabilitySet;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class LogCallsTest {
    final CallHarness k = new CallHarness();
    final Task task = TestTasks.task(3, "worker", CapabilitySet.of(Cap.LOG));

    @BeforeEach
    void acquire() {
        k.call(task, Call.CAP_ACQUIRE, Value.of(Cap.LOG.bit()));
        k.clock.advance(1_500_000_000L);
    }

    @Test
    void write_printsOneLineWithTimeTaskAndLevel() {
        assertEquals(Status.OK, k.call(task, Call.LOG_WRITE, Value.of(30), Value.of("disk almost full")).status());
        assertTrue(k.console().contains("[    1.500000] worker#3 WARN  disk almost full\n"), k.console());
    }

    @Test
    void write_embeddedNewline_staysInItsLine_escaped() {
        k.call(task, Call.LOG_WRITE, Value.of(20), Value.of("one\n[    0.000001] kernel#0 WARN  forged\n"));
        assertTrue(k.console().contains("worker#3 INFO  one\\n[    0.000001] kernel#0 WARN  forged\n"), k.console());
        assertEquals(1, k.console().lines().filter(l -> l.contains("forged")).count(), k.console());
        assertTrue(k.console().lines().noneMatch(l -> l.matches("\\[ *[0-9.]+\\] kernel#0.*")), k.console());
    }

    @Test
    void write_controlCharacters_areShownEscaped() {
        k.call(task, Call.LOG_WRITE, Value.of(20), Value.of("\rkernel#0 ERROR \u001b[31mred\u202e"));
        assertTrue(k.console().contains("worker#3 INFO  \\rkernel#0 ERROR \\x1b[31mred\\u202e\n"), k.console());
    }

    @Test
    void write_unknownLevel_isInval() {
        assertEquals(Status.ERR_INVAL, k.call(task, Call.LOG_WRITE, Value.of(25), Value.of("x")).status());
    }

    @Test
    void write_overLimit_isTooBig() {
        byte[] big = new byte[LogCalls.MAX_MESSAGE_BYTES + 1];
        assertEquals(Status.ERR_TOOBIG, k.call(task, Call.LOG_WRITE, Value.of(20), Value.of(big)).status());
    }
}
