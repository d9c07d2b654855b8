package io.ukernel.vmm.guest;

import io.ukernel.platform.spi.Platform;
import io.ukernel.platform.spi.Worker;
import io.ukernel.platform.spi.WorkerListener;
import io.ukernel.platform.spi.WorkerSpec;
import java.io.IOException;

/**
 * The {@code microvm} platform as the kernel sees it inside the guest: workers start exactly as on the host —
 * the process platform, the same loader and confinement — and the banner says where they run.
 */
final class MicrovmPlatform implements Platform {
    private final Platform processes;
    private final String where;

    /**
     * @param processes the process platform that starts the workers
     * @param where     the VM, e.g. {@code linux 6.1.0-56-cloud-amd64, 1 vCPU, 512 MiB}
     */
    MicrovmPlatform(Platform processes, String where) {
        this.processes = processes;
        this.where = where;
    }

    @Override
    public String name() {
        return "microvm";
    }

    @Override
    public String describe() {
        return "microVM guest (" + where + "), kernel as PID 1; workers: " + processes.describe();
    }

    @Override
    public String confinement() {
        return processes.confinement();
    }

    @Override
    public boolean confined() {
        return processes.confined();
    }

    @Override
    public Worker start(WorkerSpec spec, WorkerListener listener) throws IOException {
        return processes.start(spec, listener);
    }
}
