package io.ukernel.vmm;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * One microVM to boot.
 *
 * @param name      the app's name (the VM's id, for messages)
 * @param kernel    the guest kernel (a bzImage or an ELF vmlinux for QEMU; vmlinux for Firecracker)
 * @param initrd    the image ({@code dist/NAME.img}), or empty when booting from {@code rootDrive}
 * @param rootDrive a root file system image to attach as the root drive instead ({@code UKERNEL_ROOTFS} pointing
 *                  at a disk image), or empty
 * @param cpus      vCPUs
 * @param memoryMib guest memory, MiB
 * @param ports     published ports (QEMU: user-mode networking on 127.0.0.1)
 * @param params    what the guest's init is told ({@link GuestParams})
 * @param runDir    a private directory for the VMM's sockets and logs (kept short: Unix socket paths are
 *                  limited to 107 bytes)
 */
public record VmSpec(String name, Path kernel, Optional<Path> initrd, Optional<Path> rootDrive, int cpus,
        int memoryMib, List<PortForward> ports, GuestParams params, Path runDir) {
    public VmSpec {
        ports = List.copyOf(ports);
        checkResources(cpus, memoryMib);
        if (initrd.isEmpty() && rootDrive.isEmpty()) {
            throw new IllegalArgumentException("a VM needs an initrd image or a root drive");
        }
    }

    /**
     * Checks vCPUs and memory as a VM spec will, so that a caller can refuse bad values before slow work.
     *
     * @throws IllegalArgumentException naming the option and the accepted range
     */
    public static void checkResources(int cpus, int memoryMib) {
        if (cpus < 1 || cpus > 32) {
            throw new IllegalArgumentException("--cpus must be 1..32, got " + cpus);
        }
        if (memoryMib < 128) {
            throw new IllegalArgumentException("--memory must be at least 128 MiB (the image is unpacked into "
                    + "RAM), got " + memoryMib);
        }
    }
}
