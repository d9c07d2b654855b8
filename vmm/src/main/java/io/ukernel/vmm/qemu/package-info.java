/** The QEMU {@code -M microvm} backend: the command line, the KVM probe, and a QMP client for Ctrl-Alt-Del. */
package io.ukernel.vmm.qemu;
