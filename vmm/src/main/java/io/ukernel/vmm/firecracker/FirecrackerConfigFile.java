package io.ukernel.vmm.firecracker;

import io.ukernel.vmm.BootArgs;
import io.ukernel.vmm.GuestParams;
import io.ukernel.app.json.Json;
import io.ukernel.vmm.firecracker.request.BootSource;
import io.ukernel.vmm.firecracker.request.MachineConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The file for {@code firecracker --config-file}: the same bodies as the API calls, keyed by endpoint
 * ({@code boot-source}, {@code drives}, {@code machine-config}). {@code ukernel pack} writes one beside the
 * image, and {@code scripts/run_fc.sh} boots with it.
 */
public final class FirecrackerConfigFile {
    private FirecrackerConfigFile() {}

    /** The config as a map (for tests). */
    public static Map<String, Object> config(Path vmlinux, Path initrd, int vcpus, int memMib, GuestParams params) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("boot-source", new BootSource(vmlinux.toAbsolutePath().toString(),
                Optional.of(initrd.toAbsolutePath().toString()), BootArgs.firecracker(params)).body());
        m.put("drives", List.of());
        m.put("machine-config", new MachineConfig(vcpus, memMib).body());
        return m;
    }

    /** Writes the config to {@code dest}; returns {@code dest}. */
    public static Path write(Path dest, Path vmlinux, Path initrd, int vcpus, int memMib, GuestParams params)
            throws IOException {
        String json = Json.write(config(vmlinux, initrd, vcpus, memMib, params));
        Files.writeString(dest, pretty(json) + "\n", StandardCharsets.UTF_8);
        return dest;
    }

    /** Two-space indentation, for a file people read (the JSON has no strings with braces but paths). */
    static String pretty(String json) {
        StringBuilder b = new StringBuilder();
        int depth = 0;
        boolean inString = false;
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (inString) {
                b.append(c);
                if (c == '\\') {
                    b.append(json.charAt(++i));
                } else if (c == '"') {
                    inString = false;
                }
                continue;
            }
            switch (c) {
                case '"' -> {
                    inString = true;
                    b.append(c);
                }
                case '{', '[' -> {
                    char close = c == '{' ? '}' : ']';
                    if (i + 1 < json.length() && json.charAt(i + 1) == close) {
                        b.append(c).append(close);
                        i++;
                    } else {
                        depth++;
                        b.append(c).append('\n').append("  ".repeat(depth));
                    }
                }
                case '}', ']' -> {
                    depth--;
                    b.append('\n').append("  ".repeat(depth)).append(c);
                }
                case ',' -> b.append(",\n").append("  ".repeat(depth));
                case ':' -> b.append(": ");
                default -> b.append(c);
            }
        }
        return b.toString();
    }
}
