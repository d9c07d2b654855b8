package io.ukernel.kernel;

import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.caps.CapabilitySet;
import io.ukernel.kernel.handle.KernelObject;
import java.util.List;
import java.util.Optional;

/** What the task family needs from the kernel to start tasks. Reactor thread only. */
public interface TaskControl {
    /** The {@code [[task]]} declared under {@code name}, if any. */
    Optional<Policy.TaskSpec> declared(String name);

    /**
     * Creates and starts a task from {@code spec} with {@code ceiling}, its table holding {@code handles} as
     * 1..n in order; empty when the app's task limit is reached (nothing is consumed then).
     */
    Optional<Task> spawn(Task parent, Policy.TaskSpec spec, CapabilitySet ceiling, List<KernelObject> handles);
}
