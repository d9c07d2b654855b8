package io.ukernel.vmm.spi;

/**
 * Receives a VM's output, one line at a time without its line ending, from a backend thread. Calls are not
 * concurrent for one VM's guest lines, but {@link #vmm} lines may come from another thread.
 */
public interface ConsoleListener {
    /** A line from the guest's serial console. */
    void guest(String line);

    /** A diagnostic line from the VMM itself (QEMU's stderr, Firecracker's log). */
    void vmm(String line);
}
