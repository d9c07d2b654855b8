package io.ukernel.kernel.calls;

import io.ukernel.abi.Value;
import io.ukernel.kernel.KernelClock;
import io.ukernel.kernel.Task;

/** {@code time_monotonic_ns} and {@code time_wall_ns}. */
final class TimeCalls {
    private final KernelClock clock;

    TimeCalls(KernelClock clock) {
        this.clock = clock;
    }

    Outcome monotonicNs(Task task, Args args) {
        return Outcome.ok(Value.of(clock.monotonicNs()));
    }

    Outcome wallNs(Task task, Args args) {
        return Outcome.ok(Value.of(clock.wallNs()));
    }
}
