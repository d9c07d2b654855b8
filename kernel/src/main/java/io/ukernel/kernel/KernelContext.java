package io.ukernel.kernel;

import io.ukernel.app.Manifest;
import io.ukernel.kernel.console.Console;

/**
 * What call families are built with: the console, the clocks, the reactor (to register host channels and
 * timers), the app's manifest (scopes and limits) and task control. Reactor thread only.
 */
public record KernelContext(Console console, KernelClock clock, Reactor reactor, Manifest manifest,
        TaskControl tasks) {}
