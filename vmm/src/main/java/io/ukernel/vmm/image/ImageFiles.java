package io.ukernel.vmm.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** File helpers for packing. */
final class ImageFiles {
    private ImageFiles() {}

    /** Removes {@code dir} and everything under it, if it exists; never follows links. */
    static void deleteTree(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Every regular file and link under {@code dir}, sorted by path (directories are implied by them). */
    static List<Path> walk(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).sorted().toList();
        }
    }

    /** Unix permission bits of {@code p} reduced to 0755 or 0644 (images do not carry odd modes). */
    static int perm(Path p) {
        return Files.isExecutable(p) ? 0755 : 0644;
    }

    /** The user's cache directory for ukernel: {@code $XDG_CACHE_HOME/ukernel} or {@code ~/.cache/ukernel}. */
    static Path cacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("ukernel");
    }
}
