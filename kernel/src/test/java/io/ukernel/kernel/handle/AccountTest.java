package io.ukernel.kernel.handle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AccountTest {
    @Test
    void forwardTo_movesTheChargesToTheHeir_andLaterReleasesGoThere() {
        Account parent = new Account(1000);
        Account child = new Account(1000);
        child.charge(5, 300);
        child.forwardTo(parent);
        assertEquals(5, parent.handles());
        assertEquals(300, parent.bytes());
        child.release(2, 100); // a message the ended child sent is received now
        assertEquals(3, parent.handles());
        assertEquals(200, parent.bytes());
    }

    @Test
    void forwardedCharges_countAgainstTheHeirsLimits() {
        Account parent = new Account(1000);
        parent.charge(0, 600);
        Account child = new Account(1000);
        child.charge(0, 600);
        child.forwardTo(parent);
        assertFalse(parent.bytesFit(1), "a parent cannot multiply its budget by children that send and exit");
        child.release(0, 600);
        assertTrue(parent.bytesFit(400));
    }

    @Test
    void generationsOfEndedChildren_resolveToTheLiveAncestor() {
        Account root = new Account(1000);
        Account a = root;
        for (int i = 0; i < 10_000; i++) {
            Account c = new Account(1000);
            c.charge(1, 0);
            c.forwardTo(a);
            a = c;
        }
        assertEquals(10_000, root.handles());
        assertEquals(10_000, a.handles(), "the last generation's view is its live ancestor's");
    }

    @Test
    void handleTable_roomCountsHandlesInFlight() {
        HandleTable t = new HandleTable(4);
        t.install(new Obj());
        t.account().charge(2, 0);
        assertEquals(1, t.room());
        t.install(new Obj());
        assertTrue(t.install(new Obj()).isEmpty());
    }

    static final class Obj implements KernelObject {
        @Override
        public String kind() {
            return "obj";
        }

        @Override
        public void close() {}
    }
}
