package io.ukernel.kernel.handle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class HandleTableTest {
    static final class Obj implements KernelObject {
        boolean closed;

        @Override
        public String kind() {
            return "test";
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void install_givesPositiveNumbers_andRespectsTheLimit() {
        HandleTable t = new HandleTable(2);
        int a = t.install(new Obj()).orElseThrow();
        int b = t.install(new Obj()).orElseThrow();
        assertTrue(a > 0 && b > 0 && a != b, a + " " + b);
        assertEquals(Optional.empty(), t.install(new Obj()));
        assertEquals(Optional.empty(), t.get(0));
        assertEquals(Optional.empty(), t.get(-1));
        assertEquals(Optional.empty(), t.get(1L << 32 | a), "numbers above 31 bits never alias");
    }

    @Test
    void numbers_areNotSmallOrSequential_andDifferBetweenTables() {
        HandleTable t1 = new HandleTable(100);
        HandleTable t2 = new HandleTable(100);
        List<Integer> a = new java.util.ArrayList<>();
        List<Integer> b = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
            a.add(t1.install(new Obj()).orElseThrow());
            b.add(t2.install(new Obj()).orElseThrow());
        }
        assertTrue(a.stream().filter(h -> h <= 1024).count() <= 1, "small numbers: " + a);
        assertNotEquals(a, b, "two tables must not hand out the same sequence");
        // A number of one table means nothing in the other (bar a 20-in-2^31 coincidence, excluded by the seeds).
        assertTrue(a.stream().noneMatch(h -> t2.get(h).isPresent()));
    }

    @Test
    void sameSeed_sameNumbers_differentSeed_differentNumbers() {
        assertEquals(new HandleTable(8, 42).install(new Obj()), new HandleTable(8, 42).install(new Obj()));
        assertNotEquals(new HandleTable(8, 42).install(new Obj()), new HandleTable(8, 43).install(new Obj()));
    }

    @Test
    void closeAll_closesEveryObject() {
        HandleTable t = new HandleTable(8);
        Obj a = new Obj();
        Obj b = new Obj();
        t.install(a);
        t.install(b);
        t.closeAll();
        assertTrue(a.closed && b.closed);
        assertEquals(0, t.size());
    }

    /**
     * Ops: non-negative = install, negative = close the (-op % open)th open handle, or a number never handed out.
     * Numbers are unique while open, never reused among the recently closed, and closed numbers are ERR_BADHANDLE
     * (absent); the size always matches.
     */
    @Property
    void install_givesUniqueNumbers_neverReusingRecentOnes(@ForAll long seed,
            @ForAll @Size(max = 200) List<@IntRange(min = -40, max = 40) Integer> ops) {
        HandleTable t = new HandleTable(1000, seed);
        List<Integer> open = new java.util.ArrayList<>();
        Set<Integer> everSeen = new HashSet<>();
        for (int op : ops) {
            if (op >= 0) {
                int h = t.install(new Obj()).orElseThrow();
                assertTrue(h > 0, "positive: " + h);
                assertTrue(everSeen.add(h), "reused " + h + " (history " + everSeen.size() + " < "
                        + HandleTable.RECENT + ")");
                open.add(h);
            } else if (!open.isEmpty()) {
                int h = open.remove(-op % open.size());
                assertTrue(t.close(h));
                assertFalse(t.close(h), "closed twice");
                assertEquals(Optional.empty(), t.get(h), "a closed number names nothing");
            } else {
                assertFalse(t.close(-op));
            }
            assertEquals(open.size(), t.size());
            for (int h : open) {
                assertTrue(t.get(h).isPresent());
            }
        }
    }

    /** A number from another task's table is ERR_BADHANDLE (absent) here. */
    @Property
    void numbersOfAnotherTable_nameNothing(@ForAll long seedA, @ForAll long seedB) {
        HandleTable a = new HandleTable(64, seedA);
        HandleTable b = new HandleTable(64, seedB == seedA ? seedB + 1 : seedB);
        Set<Integer> mine = new HashSet<>();
        for (int i = 0; i < 32; i++) {
            mine.add(b.install(new Obj()).orElseThrow());
        }
        for (int i = 0; i < 32; i++) {
            int theirs = a.install(new Obj()).orElseThrow();
            assertEquals(mine.contains(theirs), b.get(theirs).isPresent());
        }
    }
}
