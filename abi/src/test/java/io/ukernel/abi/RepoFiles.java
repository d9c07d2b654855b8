package io.ukernel.abi;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the repository root for tests that check committed files. */
final class RepoFiles {
    private RepoFiles() {}

    static Path root() {
        String prop = System.getProperty("ukernel.repo");
        Path p = prop != null ? Path.of(prop) : Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("include"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root from " + prop);
        }
        return p;
    }
}
