package io.ukernel.app.bundle;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The app's third-party packages: {@code requirements.txt} beside {@code ukernel.toml}, installed at build time by
 * the worker's own interpreter ({@code python -m pip install --target}) into {@code build/deps/site}, which the
 * bundle carries under {@code deps/} and the loader puts on {@code sys.path} after {@code src/}.
 *
 * <p>The install is keyed by a hash of the requirements file, the interpreter and the pip settings that choose
 * where packages come from ({@code PIP_INDEX_URL}, {@code PIP_FIND_LINKS}, ...); it is redone only when the key
 * changes (or on {@code build --force}). pip itself honours what the file says: {@code --hash} pins (then every
 * requirement must be pinned: {@code --require-hashes}), {@code --index-url}, {@code --find-links} and
 * {@code --no-index} lines. Byte code is not compiled ({@code --no-compile}) and console scripts are dropped, so
 * the same wheels give the same tree and the bundle stays reproducible. The install goes to a temporary directory
 * first and replaces the old tree only when pip succeeded; an interrupted install leaves a temporary directory
 * that the next build removes.
 */
public final class Dependencies {
    /** The requirements file, beside {@code ukernel.toml}. */
    public static final String REQUIREMENTS = "requirements.txt";
    /** Where the packages are in the bundle (and so in the worker's view of it). */
    static final String BUNDLE_PREFIX = "deps";
    private static final String KEY_FILE = "key";
    /** pip settings that decide which files an install gets, so they are part of the cache key. */
    private static final List<String> PIP_SOURCES = List.of("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
            "PIP_NO_INDEX", "PIP_REQUIRE_HASHES", "PIP_ONLY_BINARY", "PIP_NO_BINARY", "PIP_PLATFORM", "PIP_PRE");
    private static final int TAIL_LINES = 12;

    private Dependencies() {}

    /** {@code build/deps}: the install and its key. */
    static Path dir(Path appDir) {
        return appDir.resolve("build").resolve("deps");
    }

    /** The installed packages the bundle carries, if the app has a requirements file and they are installed. */
    static Path site(Path appDir) {
        return dir(appDir).resolve("site");
    }

    /**
     * Installs {@code requirements.txt} when it changed since the last install (or {@code force}); removes the
     * install when the file is gone.
     *
     * @param progress receives pip's output, one line at a time (for the terminal)
     * @return whether pip ran
     * @throws BuildException when pip fails, with its last lines and what to change
     */
    static boolean install(Path appDir, PythonRuntime runtime, boolean force, Consumer<String> progress)
            throws BuildException, IOException {
        Path requirements = appDir.resolve(REQUIREMENTS);
        Path dir = dir(appDir);
        if (!Files.isRegularFile(requirements, LinkOption.NOFOLLOW_LINKS)) {
            deleteTree(dir);
            return false;
        }
        String key = key(Files.readAllBytes(requirements), runtime, System.getenv());
        Path keyFile = dir.resolve(KEY_FILE);
        Path site = site(appDir);
        if (!force && Files.isDirectory(site) && Files.isRegularFile(keyFile)
                && Files.readString(keyFile, StandardCharsets.UTF_8).strip().equals(key)) {
            return false;
        }
        Files.createDirectories(dir);
        sweepAbandoned(dir);
        Path tmp = Files.createTempDirectory(dir, "tmp-" + ProcessHandle.current().pid() + "-");
        try {
            runPip(appDir, runtime, tmp, progress);
            deleteTree(tmp.resolve("bin")); // console scripts: absolute shebangs, and a worker cannot exec them
            Files.deleteIfExists(keyFile);
            deleteTree(site);
            Files.move(tmp, site);
            AtomicFiles.write(keyFile, (key + "\n").getBytes(StandardCharsets.UTF_8));
        } finally {
            deleteTree(tmp);
        }
        return true;
    }

    /** The cache key: the requirements' bytes, the interpreter, and the pip settings that choose the sources. */
    static String key(byte[] requirements, PythonRuntime runtime, Map<String, String> env) {
        StringBuilder b = new StringBuilder("ukernel-deps-1\n");
        b.append(runtime.executable()).append('\n').append(runtime.version()).append('\n');
        for (String name : PIP_SOURCES) {
            b.append(name).append('=').append(env.getOrDefault(name, "")).append('\n');
        }
        byte[] head = b.toString().getBytes(StandardCharsets.UTF_8);
        byte[] all = new byte[head.length + requirements.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(requirements, 0, all, head.length, requirements.length);
        return Sha256.hex(all);
    }

    private static void runPip(Path appDir, PythonRuntime runtime, Path target, Consumer<String> progress)
            throws BuildException, IOException {
        List<String> cmd = new ArrayList<>(List.of(runtime.executable().toString(), "-I", "-m", "pip", "install",
                "--no-input", "--disable-pip-version-check", "--no-compile", "--no-warn-script-location",
                "--progress-bar", "off", "--root-user-action=ignore", "--target", target.toString(), "-r", REQUIREMENTS));
        // pip resolves relative --find-links and file paths in the requirements from its working directory
        Process p = new ProcessBuilder(cmd).directory(appDir.toFile()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        Deque<String> tail = new ArrayDeque<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                progress.accept(line);
                if (tail.size() == TAIL_LINES) {
                    tail.removeFirst();
                }
                tail.addLast(line);
            }
        }
        int status;
        try {
            status = p.waitFor();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new BuildException("interrupted while installing " + REQUIREMENTS, e);
        }
        if (status == 0) {
            return;
        }
        String output = String.join("\n    ", tail);
        if (output.contains("No module named pip")) {
            throw new BuildException(runtime.executable() + " has no pip, so " + REQUIREMENTS + " cannot be installed"
                    + " (Debian: apt-get install python3-pip; or vendor the packages into src/)");
        }
        throw new BuildException("installing " + REQUIREMENTS + " with " + runtime.executable() + " -m pip failed"
                + " (exit " + status + "):\n    " + output + "\n  If the package index cannot be reached from here,"
                + " install from a directory of wheels: PIP_FIND_LINKS=/path/to/wheels PIP_NO_INDEX=1 ukernel build"
                + " (or put --find-links and --no-index lines in " + REQUIREMENTS + "), or name a mirror with"
                + " PIP_INDEX_URL.");
    }

    /** Removes temporary install directories whose build process is gone (an interrupted build's). */
    private static void sweepAbandoned(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (!n.startsWith("tmp-")) {
                    continue;
                }
                String[] parts = n.split("-");
                boolean alive = false;
                try {
                    alive = parts.length > 1 && ProcessHandle.of(Long.parseLong(parts[1])).isPresent();
                } catch (NumberFormatException ignored) {
                    // not ours
                }
                if (!alive) {
                    deleteTree(p);
                }
            }
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
