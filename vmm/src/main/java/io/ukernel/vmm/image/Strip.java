package io.ukernel.vmm.image;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.TimeUnit;

/**
 * Shared objects and executables without their symbol tables and debug sections ({@code strip
 * --strip-unneeded}, which keeps the dynamic symbols they are linked by): pyenv's {@code libpython} shrinks from
 * 23 to 6 MiB. Stripped copies are cached by source path, size and time; without {@code strip} on the host the
 * originals are used.
 */
final class Strip {
    private static final Path STRIP = Path.of("/usr/bin/strip");

    private Strip() {}

    /** Whether the host can strip. */
    static boolean available() {
        return Files.isExecutable(STRIP);
    }

    /** A stripped copy of {@code elf} (cached in {@code cacheDir/strip}), or {@code elf} itself. */
    static Path stripped(Path elf, Path cacheDir) {
        if (!available()) {
            return elf;
        }
        try {
            BasicFileAttributes a = Files.readAttributes(elf, BasicFileAttributes.class);
            String key = io.ukernel.app.bundle.Sha256.hex((elf.toAbsolutePath() + "\n" + a.size() + "\n"
                    + a.lastModifiedTime().toMillis()).getBytes(StandardCharsets.UTF_8)).substring(0, 16);
            Path out = cacheDir.resolve("strip").resolve(key + "-" + elf.getFileName());
            if (Files.isRegularFile(out)) {
                return out;
            }
            Files.createDirectories(out.getParent());
            Path tmp = Files.createTempFile(out.getParent(), "strip-", ".tmp");
            return run(elf, tmp) ? move(tmp, out) : elf;
        } catch (IOException e) {
            return elf;
        }
    }

    /** Strips {@code elf} in place (the cached Java runtime); false if it could not be. */
    static boolean inPlace(Path elf) {
        if (!available()) {
            return false;
        }
        try {
            Path tmp = Files.createTempFile(elf.getParent(), "strip-", ".tmp");
            if (!run(elf, tmp)) {
                return false;
            }
            tmp.toFile().setExecutable(Files.isExecutable(elf));
            Files.move(tmp, elf, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean run(Path in, Path out) throws IOException {
        Process p = new ProcessBuilder(STRIP.toString(), "--strip-unneeded", "-o", out.toString(), in.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                Files.deleteIfExists(out);
                return false;
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            Files.deleteIfExists(out);
            return false;
        }
    }

    private static Path move(Path tmp, Path out) throws IOException {
        tmp.toFile().setExecutable(true);
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return out;
    }
}
