package io.ukernel.cli;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The Python adapter that {@code ukernel build} puts into every bundle. It travels inside the CLI jar as
 * {@code adapter/ukernel/*.py}; {@link #extractTo} copies it to a directory, whether the classpath holds it as a
 * directory (running from {@code target/classes}) or in a jar. The system property {@value #PROPERTY}, when set,
 * names a source directory to use instead (tests and adapter development: {@code <repo>/python/ukernel}).
 */
public final class AdapterResources {
    /** System property naming an adapter source directory that overrides the bundled one. */
    public static final String PROPERTY = "ukernel.adapter.dir";
    /** Where the adapter is on the classpath. */
    static final String RESOURCE = "adapter/ukernel";

    private AdapterResources() {}

    /**
     * Copies the adapter's {@code *.py} and {@code py.typed} into {@code dest} (created if needed).
     *
     * @return {@code dest}
     * @throws IOException if the adapter is not found or cannot be copied
     */
    public static Path extractTo(Path dest) throws IOException {
        return extractTo(dest, AdapterResources.class.getClassLoader());
    }

    /** As {@link #extractTo(Path)}, looking the resources up in {@code loader}. */
    static Path extractTo(Path dest, ClassLoader loader) throws IOException {
        String override = System.getProperty(PROPERTY);
        if (override != null && !override.isBlank()) {
            Path dir = Path.of(override);
            if (!Files.isDirectory(dir)) {
                throw new IOException(PROPERTY + "=" + override + " is not a directory");
            }
            copy(dir, dest);
            return dest;
        }
        URL url = loader.getResource(RESOURCE + "/__init__.py");
        if (url == null) {
            throw new IOException("the Python adapter (" + RESOURCE + "/) is missing from the ukernel installation;"
                    + " reinstall ukernel or set -D" + PROPERTY + "=<repo>/python/ukernel");
        }
        URI uri;
        try {
            uri = url.toURI();
        } catch (URISyntaxException e) {
            throw new IOException("cannot locate the Python adapter: " + url, e);
        }
        if (uri.getScheme().equals("jar")) {
            FileSystem fs;
            boolean ours = true;
            try {
                fs = FileSystems.newFileSystem(uri, Map.of());
            } catch (FileSystemAlreadyExistsException e) {
                fs = FileSystems.getFileSystem(uri); // opened elsewhere in this JVM: use it, leave it open
                ours = false;
            }
            try {
                copy(fs.getPath("/" + RESOURCE), dest);
            } finally {
                if (ours) {
                    fs.close();
                }
            }
        } else {
            copy(Path.of(uri).getParent(), dest);
        }
        return dest;
    }

    private static void copy(Path src, Path dest) throws IOException {
        Files.createDirectories(dest);
        List<Path> files;
        try (Stream<Path> s = Files.walk(src)) {
            files = s.filter(Files::isRegularFile).filter(p -> {
                String n = p.getFileName().toString();
                return (n.endsWith(".py") || n.equals("py.typed")) && !p.toString().contains("__pycache__");
            }).toList();
        }
        for (Path f : files) {
            Path rel = src.relativize(f);
            Path target = dest.resolve(rel.toString());
            Files.createDirectories(target.getParent());
            Files.copy(f, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
