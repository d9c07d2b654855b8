/**
 * {@code ukernel pack}: the bootable image (an initramfs written in Java: a generated {@code /init}, a jlink'ed
 * Java runtime, the kernel's jars, the host's CPython pruned, its shared libraries, virtio modules and the app),
 * and the guest kernel files beside it.
 */
package io.ukernel.vmm.image;
