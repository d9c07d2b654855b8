package io.ukernel.kernel.caps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Cap;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class TaskCapsTest {
    @Test
    void acquire_isAllOrNothing() {
        TaskCaps caps = new TaskCaps(CapabilitySet.of(Cap.LOG));
        var d = assertInstanceOf(TaskCaps.Acquire.Denied.class, caps.acquire(CapabilitySet.of(Cap.LOG, Cap.NET)));
        assertEquals(CapabilitySet.of(Cap.NET), d.missing());
        assertEquals(CapabilitySet.NONE, caps.active());
    }

    /** Whatever a task asks and drops, its active set stays within the ceiling and the ceiling never grows. */
    @Property
    void rightsOnlyShrink(@ForAll @LongRange(min = 0, max = 63) long ceiling,
            @ForAll @LongRange(min = 0, max = 63) long a, @ForAll @LongRange(min = 0, max = 63) long d,
            @ForAll @LongRange(min = 0, max = 63) long b) {
        TaskCaps caps = new TaskCaps(new CapabilitySet(ceiling));
        caps.acquire(new CapabilitySet(a));
        caps.drop(new CapabilitySet(d));
        caps.acquire(new CapabilitySet(b));
        assertTrue(new CapabilitySet(ceiling).containsAll(caps.ceiling()));
        assertTrue(caps.ceiling().containsAll(caps.active()));
        assertFalse(caps.active().intersect(new CapabilitySet(d)).mask() != 0);
    }
}
