/**
 * The guest side of the microVM platform: {@link io.ukernel.vmm.guest.GuestInit}, the kernel as PID 1, and the
 * Linux calls it makes through the FFM API (mounts, network interfaces, modules, power-off).
 */
package io.ukernel.vmm.guest;
