package io.ukernel.vmm.firecracker.request;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@code PUT /boot-source} (swagger {@code BootSource}). Released Firecracker boots only an ELF {@code vmlinux}
 * on x86_64, and the serial console reaches its stdout only with {@code console=ttyS0} in {@code boot_args}.
 *
 * @param kernelImagePath the vmlinux
 * @param initrdPath      the initramfs image, if booting from one
 * @param bootArgs        the kernel command line
 */
public record BootSource(String kernelImagePath, Optional<String> initrdPath, String bootArgs)
        implements FirecrackerRequest {
    @Override
    public String path() {
        return "/boot-source";
    }

    @Override
    public Map<String, Object> body() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kernel_image_path", kernelImagePath);
        initrdPath.ifPresent(p -> m.put("initrd_path", p));
        m.put("boot_args", bootArgs);
        return m;
    }
}
