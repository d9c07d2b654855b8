package io.ukernel.app;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The project {@code ukernel init} writes: a commented {@code ukernel.toml}, a heartbeat worker in
 * {@code src/main.py}, an example {@code env/ukernel.env} and a {@code .gitignore} for the outputs.
 */
public final class ProjectTemplate {
    /** Template resource (next to this class, under {@code template/}) → file in the project. */
    private static final Map<String, String> FILES = files();

    private ProjectTemplate() {}

    private static Map<String, String> files() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("ukernel.toml", Manifest.FILE_NAME);
        m.put("main.py", "src/main.py");
        m.put("ukernel.env", EnvFile.PATH);
        m.put("gitignore", ".gitignore");
        return m;
    }

    /**
     * Creates the project {@code name} in {@code dir}.
     *
     * @param dir  the project directory: created if missing, refused if it exists and is not empty
     * @param name the app's name ({@link ManifestParser#isValidName})
     * @return the files written, relative to {@code dir}, in the order written
     * @throws IllegalArgumentException if {@code name} is invalid
     * @throws IOException              if {@code dir} is a non-empty directory or a file, or writing fails
     */
    public static List<Path> create(Path dir, String name) throws IOException {
        if (!ManifestParser.isValidName(name)) {
            throw new IllegalArgumentException(Checks.name(name));
        }
        if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Path shown = dir.toAbsolutePath().normalize();
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException(shown + " exists and is not a directory");
            }
            try (Stream<Path> s = Files.list(dir)) {
                if (s.findAny().isPresent()) {
                    throw new IOException(shown + " already exists and is not empty: choose another name or --dir,"
                            + " or remove it first");
                }
            }
        }
        List<Path> written = new ArrayList<>();
        for (Map.Entry<String, String> f : FILES.entrySet()) {
            Path rel = Path.of(f.getValue());
            Path target = dir.resolve(rel);
            Files.createDirectories(target.getParent());
            Files.writeString(target, render(f.getKey(), name), StandardCharsets.UTF_8);
            written.add(rel);
        }
        return written;
    }

    /** The text of template {@code resource} with {@code {{name}}} replaced. */
    static String render(String resource, String name) {
        try (InputStream in = ProjectTemplate.class.getResourceAsStream("template/" + resource)) {
            if (in == null) {
                throw new IllegalStateException("template resource missing from the build: " + resource);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("{{name}}", name);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
