package io.ukernel.vmm.spi;

import java.util.concurrent.TimeUnit;

/** A booted VM. Methods may be called from any thread (signal handlers among them). */
public interface RunningVm {
    /** The VMM process's pid. */
    long pid();

    /** One line on how the VM runs (accelerator, devices), for the console. */
    String describe();

    /**
     * Asks the guest to stop cleanly: Ctrl-Alt-Del, which the guest's init turns into a stop of the app (its
     * workers get SIGTERM, then SIGKILL after the grace period), after which the VM ends by itself.
     */
    void requestStop();

    /** Ends the VMM at once. */
    void kill();

    /** Whether the VMM still runs. */
    boolean alive();

    /**
     * Waits for the VMM to exit and for the last console line to be delivered.
     *
     * @return the VMM's exit code, or -1 if it is still running after {@code timeout}
     */
    int waitFor(long timeout, TimeUnit unit) throws InterruptedException;
}
