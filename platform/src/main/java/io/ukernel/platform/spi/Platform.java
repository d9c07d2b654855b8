package io.ukernel.platform.spi;

import java.io.IOException;

/**
 * Where workers run and what confines them. The kernel asks its platform to start a worker for a task and learns
 * of its output and exit through a {@link WorkerListener}. Implementations: {@code ProcessPlatform} (a confined
 * host process); the microVM platform runs the same kernel as PID 1 and uses the process platform inside.
 */
public interface Platform {
    /** Short name shown in the boot banner, e.g. {@code process}. */
    String name();

    /** One line describing the runtime, for the boot banner. */
    String describe();

    /** One line stating the confinement in force for workers (Landlock ABI, seccomp, namespaces), for the banner. */
    default String confinement() {
        return "none";
    }

    /** Whether workers run confined; false makes the banner's confinement line a warning. */
    default boolean confined() {
        return false;
    }

    /**
     * Starts a worker. Must be called from a thread that outlives the worker (the kernel's reactor): on Linux
     * the worker is tied to that thread with {@code PR_SET_PDEATHSIG}.
     *
     * @throws IOException when the host cannot start it (e.g. python3 missing)
     */
    Worker start(WorkerSpec spec, WorkerListener listener) throws IOException;
}
