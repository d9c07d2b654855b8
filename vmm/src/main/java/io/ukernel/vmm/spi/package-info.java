/**
 * The service interface between {@code ukernel run --vmm} and the virtual machine monitors: a {@link
 * io.ukernel.vmm.spi.VmmBackend} boots a {@link io.ukernel.vmm.VmSpec} into a {@link io.ukernel.vmm.spi.RunningVm}
 * and streams its console to a {@link io.ukernel.vmm.spi.ConsoleListener}.
 */
package io.ukernel.vmm.spi;
