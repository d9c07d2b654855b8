package io.ukernel.vmm.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The guest kernel's modules the image carries, in load order: what the network device needs (virtio over MMIO,
 * as {@code -M microvm} and Firecracker present it, and virtio-net) and the fw_cfg driver (the environment of a
 * QEMU run), resolved with {@code modules.dep}. Modules
 * built into the kernel ({@code modules.builtin}) are not needed. The guest's init loads them with
 * {@code finit_module} only when the VM has a network device.
 */
final class KernelModules {
    /** What networking needs, by module name. */
    static final List<String> NETWORK = List.of("virtio_mmio", "virtio_net");
    /** What reading the environment from QEMU's fw_cfg needs ({@code /sys/firmware/qemu_fw_cfg}). */
    static final List<String> FW_CFG = List.of("qemu_fw_cfg");
    /** Where the modules go in the image. */
    static final String GUEST_DIR = "ukernel/modules";

    /**
     * The modules found.
     *
     * @param files   module files in load order (dependencies first)
     * @param builtIn wanted modules that the kernel has built in
     */
    record Found(List<Path> files, List<String> builtIn) {}

    private KernelModules() {}

    /**
     * Resolves {@code wanted} in {@code modulesDir} ({@code /lib/modules/RELEASE}).
     *
     * @throws ImageException if a wanted module is neither built in nor present
     */
    static Found resolve(Path modulesDir, List<String> wanted) throws ImageException {
        try {
            Map<String, List<String>> deps = new HashMap<>();
            Map<String, String> byName = new HashMap<>();
            for (String line : Files.readAllLines(modulesDir.resolve("modules.dep"))) {
                int colon = line.indexOf(':');
                if (colon <= 0) {
                    continue;
                }
                String mod = line.substring(0, colon).strip();
                String rest = line.substring(colon + 1).strip();
                deps.put(mod, rest.isEmpty() ? List.of() : List.of(rest.split("\\s+")));
                byName.put(name(mod), mod);
            }
            Set<String> builtinNames = new java.util.HashSet<>();
            Path builtin = modulesDir.resolve("modules.builtin");
            if (Files.isRegularFile(builtin)) {
                for (String line : Files.readAllLines(builtin)) {
                    if (!line.isBlank()) {
                        builtinNames.add(name(line.strip()));
                    }
                }
            }
            LinkedHashSet<String> order = new LinkedHashSet<>();
            List<String> builtIn = new ArrayList<>();
            for (String w : wanted) {
                if (builtinNames.contains(w)) {
                    builtIn.add(w);
                    continue;
                }
                String mod = byName.get(w);
                if (mod == null) {
                    throw new ImageException("the guest kernel has no module " + w + " (not in " + modulesDir
                            + "/modules.dep nor built in)");
                }
                List<String> d = new ArrayList<>(deps.getOrDefault(mod, List.of()));
                // modules.dep lists a module's dependencies so that loading them last-to-first works
                java.util.Collections.reverse(d);
                order.addAll(d);
                order.add(mod);
            }
            List<Path> files = new ArrayList<>();
            for (String m : order) {
                Path f = modulesDir.resolve(m);
                if (!Files.isRegularFile(f)) {
                    throw new ImageException("module file " + f + " is missing");
                }
                files.add(f);
            }
            return new Found(files, builtIn);
        } catch (IOException e) {
            throw new ImageException("cannot read the kernel modules in " + modulesDir + ": " + e.getMessage(), e);
        }
    }

    /** {@code kernel/drivers/net/virtio_net.ko(.xz)} → {@code virtio_net} ({@code -} and {@code _} are equal). */
    static String name(String path) {
        String n = path.substring(path.lastIndexOf('/') + 1);
        int ko = n.indexOf(".ko");
        return (ko >= 0 ? n.substring(0, ko) : n).replace('-', '_');
    }
}
