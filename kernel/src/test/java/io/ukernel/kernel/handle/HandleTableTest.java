package io.ukernel.kernel.handle;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
    void install_startsAtOne_andRespectsTheLimit() {
        HandleTable t = new HandleTable(2);
        assertEquals(Optional.of(1), t.install(new Obj()));
        assertEquals(Optional.of(2), t.install(new Obj()));
        assertEquals(Optional.empty(), t.install(new Obj()));
        assertEquals(Optional.empty(), t.get(0));
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

    /** Ops: positive = install, negative = close that handle. The table always gives the lowest free number. */
    @Property
    void install_alwaysTakesTheLowestFreeNumber(@ForAll @Size(max = 60) List<@IntRange(min = -20, max = 20) Integer> ops) {
        HandleTable t = new HandleTable(1000);
        Set<Integer> open = new HashSet<>();
        for (int op : ops) {
            if (op >= 0) {
                int expected = 1;
                while (open.contains(expected)) {
                    expected++;
                }
                assertEquals(Optional.of(expected), t.install(new Obj()));
                open.add(expected);
            } else {
                assertEquals(open.remove(-op), t.close(-op));
            }
            assertEquals(open.size(), t.size());
        }
    }
}
