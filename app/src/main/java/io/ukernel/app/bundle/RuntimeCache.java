package io.ukernel.app.bundle;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Remembers which interpreter {@code python3} (or {@code $UKERNEL_PYTHON}) resolved to, so an up-to-date
 * {@code ukernel run} does not start a Python process just to ask its version (tens of milliseconds, more behind a
 * pyenv shim). The cache is keyed by the command, where it resolves on PATH and that file's modification time:
 * pointing PATH elsewhere, upgrading the interpreter or setting {@code UKERNEL_PYTHON} detects afresh.
 */
public final class RuntimeCache implements PythonRuntime.Detector {
    /** The cache file, relative to the app directory. */
    public static final String FILE = "build/adapter/runtime.cache";

    private final Path file;

    public RuntimeCache(Path appDir) {
        this.file = appDir.resolve(FILE);
    }

    @Override
    public PythonRuntime detect() throws BuildException {
        String command = command();
        String key = key(command);
        if (key != null) {
            Optional<PythonRuntime> hit = read(key);
            if (hit.isPresent()) {
                return hit.get();
            }
        }
        PythonRuntime found = PythonRuntime.detect(command);
        if (key != null) {
            write(key, found);
        }
        return found;
    }

    private static String command() {
        String env = System.getenv(PythonRuntime.ENV);
        return env == null || env.isBlank() ? "python3" : env;
    }

    /** {@code command|resolved path|mtime}, or null when the command cannot be resolved without running it. */
    private static String key(String command) {
        Path resolved = null;
        if (command.contains("/")) {
            resolved = Path.of(command);
        } else {
            String path = System.getenv("PATH");
            for (String dir : path == null ? new String[0] : path.split(":")) {
                Path candidate = Path.of(dir.isEmpty() ? "." : dir, command);
                if (Files.isExecutable(candidate)) {
                    resolved = candidate;
                    break;
                }
            }
        }
        if (resolved == null) {
            return null;
        }
        try {
            Path real = resolved.toRealPath();
            String key = command + "|" + real + "|" + Files.getLastModifiedTime(real).toMillis();
            return isScript(real) ? key + "|" + shimContext() : key;
        } catch (IOException e) {
            return null;
        }
    }

    /** A {@code #!} script on PATH is a version-manager shim (pyenv, asdf, ...), not the interpreter itself. */
    private static boolean isScript(Path file) throws IOException {
        try (var in = Files.newInputStream(file)) {
            byte[] head = in.readNBytes(2);
            return head.length == 2 && head[0] == '#' && head[1] == '!';
        }
    }

    /**
     * What a shim decides by: its environment variables and version files. Part of the key, so switching
     * {@code PYENV_VERSION} or a {@code .python-version} file detects afresh.
     */
    private static String shimContext() {
        StringBuilder s = new StringBuilder();
        System.getenv().entrySet().stream()
                .filter(e -> e.getKey().startsWith("PYENV") || e.getKey().startsWith("ASDF")
                        || e.getKey().equals("VIRTUAL_ENV") || e.getKey().equals("CONDA_PREFIX"))
                .sorted(java.util.Map.Entry.comparingByKey())
                .forEach(e -> s.append(e.getKey()).append('=').append(e.getValue()).append(';'));
        String root = System.getenv().getOrDefault("PYENV_ROOT", System.getProperty("user.home") + "/.pyenv");
        s.append(fileContent(Path.of(root, "version")));
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            s.append(fileContent(dir.resolve(".python-version"))).append(fileContent(dir.resolve(".tool-versions")));
        }
        return Integer.toHexString(s.toString().hashCode());
    }

    private static String fileContent(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.readString(file).strip() + ";" : "";
        } catch (IOException e) {
            return "";
        }
    }

    private Optional<PythonRuntime> read(String key) {
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            if (lines.size() == 3 && lines.get(0).equals(key)) {
                Path exe = Path.of(lines.get(1));
                if (Files.isExecutable(exe)) {
                    return Optional.of(new PythonRuntime(exe, lines.get(2)));
                }
            }
        } catch (IOException | RuntimeException e) {
            // no usable cache: detect afresh
        }
        return Optional.empty();
    }

    private void write(String key, PythonRuntime runtime) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, key + "\n" + runtime.executable() + "\n" + runtime.version() + "\n",
                    StandardCharsets.UTF_8);
        } catch (IOException e) {
            // a cache that cannot be written only costs the next run a detection
        }
    }
}
