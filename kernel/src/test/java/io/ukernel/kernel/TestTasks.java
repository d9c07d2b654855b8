package io.ukernel.kernel;

import io.ukernel.app.Manifest.RestartPolicy;
import io.ukernel.kernel.caps.CapabilitySet;

/** Makes tasks for unit tests (Task's constructor is package-private: only the task table creates tasks). */
public final class TestTasks {
    private TestTasks() {}

    public static Task task(int id, String name, CapabilitySet ceiling) {
        return new Task(id, name, "src/main.py", RestartPolicy.never(), ceiling, 16, "00");
    }
}
