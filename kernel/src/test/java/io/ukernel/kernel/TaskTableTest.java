package io.ukernel.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.caps.CapabilitySet;
import org.junit.jupiter.api.Test;

class TaskTableTest {
    @Test
    void forget_endedSpawnedTasks_keepTheTableBounded_andTheirIdsAreNotReused() {
        TaskTable t = new TaskTable(2);
        Task main = t.create("main", "src/main.py", Policy.RestartPolicy.never(), new CapabilitySet(0),
                Policy.Limits.defaults()).orElseThrow();
        int lastId = main.id();
        for (int i = 0; i < 10_000; i++) {
            Task child = t.create("child", "src/child.py", Policy.RestartPolicy.never(), new CapabilitySet(0),
                    Policy.Limits.defaults()).orElseThrow();
            assertTrue(child.id() > lastId, "ids are never reused");
            lastId = child.id();
            child.state(Task.State.EXITED);
            t.forget(child);
        }
        assertEquals(1, t.size(), "only the main task is left");
        assertEquals(1, t.liveCount());
    }
}
