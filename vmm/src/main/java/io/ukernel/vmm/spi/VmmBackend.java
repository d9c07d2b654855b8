package io.ukernel.vmm.spi;

import io.ukernel.vmm.VmSpec;
import io.ukernel.vmm.VmmException;

/**
 * A virtual machine monitor that boots ukernel images: QEMU {@code -M microvm} or Firecracker. Implementations
 * are stateless; each {@link #boot} starts one VMM process that the returned {@link RunningVm} owns.
 */
public interface VmmBackend {
    /** Short name, as {@code --vmm} takes it: {@code qemu}, {@code firecracker}. */
    String name();

    /**
     * Starts the VM. Returns once the VMM runs the guest (for Firecracker: after {@code InstanceStart} was
     * accepted); the guest's console lines then arrive at {@code console} from the backend's threads.
     *
     * @throws VmmException if the VMM is missing, refuses the configuration, or dies before the guest starts
     */
    RunningVm boot(VmSpec spec, ConsoleListener console) throws VmmException;
}
