/**
 * The microVM platform: the same kernel as PID 1 of a Linux microVM. {@code image} packs the bootable image,
 * {@code guest} is the init that runs in it, {@code qemu} and {@code firecracker} boot it; this package holds
 * what host and guest share ({@link io.ukernel.vmm.GuestParams}, {@link io.ukernel.vmm.BootArgs}).
 */
package io.ukernel.vmm;
