package io.ukernel.kernel.calls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.ukernel.abi.Call;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** ABI v1 is complete: only reserved calls answer ERR_UNSUPPORTED (docs/kernel-abi.md §12 says so). */
class CallTableTest {
    @Test
    void everyCallThatIsNotReserved_hasAHandler() {
        CallTable table = new CallHarness().table();
        List<Call> missing = new ArrayList<>();
        for (Call c : Call.values()) {
            if (!c.reserved() && c != Call.HELLO && !table.implemented(c)) {
                missing.add(c);
            }
        }
        assertEquals(List.of(), missing);
    }

    @Test
    void reservedCalls_haveNoHandler() {
        CallTable table = new CallHarness().table();
        for (Call c : Call.values()) {
            if (c.reserved()) {
                assertFalse(table.implemented(c), c + " is reserved");
            }
        }
    }
}
