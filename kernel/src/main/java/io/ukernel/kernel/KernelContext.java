package io.ukernel.kernel;

import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.policy.Policy;
import java.nio.file.Path;

/**
 * What call families are built with: the console, the clocks, the reactor (to register host channels and
 * timers), the app's policy (scopes, limits, and the wording of remedies), task control, and the app directory
 * (the {@code io} preopens' paths are relative to it). Reactor thread only.
 */
public record KernelContext(Console console, KernelClock clock, Reactor reactor, Policy policy,
        TaskControl tasks, Path appDir) {

    /**
     * A context without IO: the app directory is the working directory. For tests that were written before
     * {@code appDir} existed; the kernel passes its app directory.
     */
    public KernelContext(Console console, KernelClock clock, Reactor reactor, Policy policy, TaskControl tasks) {
        this(console, clock, reactor, policy, tasks, Path.of("."));
    }
}
