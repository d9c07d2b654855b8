package io.ukernel.abi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CallTest {
    @Test
    void everyCall_hasAUniqueNumberInsideItsFamilyBlock() {
        Set<Integer> seen = new HashSet<>();
        for (Call c : Call.values()) {
            assertTrue(seen.add(c.number()), c + " reuses a number");
            assertTrue(c.number() - c.family().base() < 16, c + " is outside its family's block");
            assertSame(c, Call.ofNumber(c.number()));
        }
    }

    @Test
    void family_followsTheNamePrefix() {
        assertEquals(Family.LOG, Call.LOG_WRITE.family());
        assertEquals(Family.NET, Call.NET_RECVFROM.family());
        assertEquals(Family.POLL, Call.IO_POLL.family());
        assertEquals(Family.META, Call.HELLO.family());
    }

    @Test
    void statusCodes_areDenseFromZero() {
        for (Status s : Status.values()) {
            assertSame(s, Status.ofCode(s.code()));
        }
        assertEquals(null, Status.ofCode(Status.values().length));
    }

    @Test
    void capFormat_namesEveryBit() {
        assertEquals("LOG|TIME", Cap.format(Cap.LOG.bit() | Cap.TIME.bit()));
        assertEquals("none", Cap.format(0));
        assertEquals("NET|0x80", Cap.format(Cap.NET.bit() | 0x80));
    }
}
