package io.ukernel.vmm;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/** Finds a VMM binary the way every backend does: an explicit environment variable first, then {@code PATH}. */
public final class Binaries {
    private Binaries() {}

    /**
     * {@code $envVar} when set (it must then be an executable file), else {@code name} on {@code PATH}; empty when
     * neither finds one.
     *
     * @param env the environment to read ({@code envVar} and {@code PATH})
     * @return the binary, if found
     * @throws VmmException when {@code envVar} is set to something that is not an executable file
     */
    public static Optional<Path> find(Map<String, String> env, String envVar, String name) throws VmmException {
        String explicit = env.get(envVar);
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            if (!Files.isExecutable(p)) {
                throw new VmmException(envVar + "=" + explicit + " is not an executable file");
            }
            return Optional.of(p);
        }
        for (String dir : env.getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin").split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, name);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
