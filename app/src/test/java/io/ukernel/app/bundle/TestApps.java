package io.ukernel.app.bundle;

import io.ukernel.app.ProjectTemplate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Apps and adapter directories for tests: a fresh project from the template, a copy of the real adapter. */
final class TestApps {
    private TestApps() {}

    /** The repository's Python adapter ({@code <ukernel.repo>/python/ukernel}). */
    static Path repoAdapter() {
        String repo = System.getProperty("ukernel.repo");
        if (repo == null) {
            throw new IllegalStateException("system property ukernel.repo is not set (surefire sets it)");
        }
        return Path.of(repo, "python", "ukernel");
    }

    /**
     * A snapshot of the repository's adapter (its *.py and py.typed): the tests compare bytes, and others may
     * be editing the adapter while they run.
     */
    static Path adapterCopy(Path tmp) throws IOException {
        Path dst = Files.createDirectories(tmp.resolve("adapter-src/ukernel"));
        try (Stream<Path> s = Files.list(repoAdapter())) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (Files.isRegularFile(p) && (n.endsWith(".py") || n.equals("py.typed"))) {
                    Files.copy(p, dst.resolve(n));
                }
            }
        }
        if (!Files.exists(dst.resolve("__init__.py"))) {
            Files.writeString(dst.resolve("__init__.py"), "# package marker\n");
        }
        return dst;
    }

    /** A new app called {@code name} in {@code tmp/name}. */
    static Path app(Path tmp, String name) throws IOException {
        Path dir = tmp.resolve(name);
        ProjectTemplate.create(dir, name);
        return dir;
    }
}
