package io.ukernel.vmm.image;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.spi.ToolProvider;

/**
 * The guest's Java runtime: {@code jlink} of the modules the kernel's jars use ({@code jdeps
 * --print-module-deps}), without debug attributes, headers or man pages, with a CDS archive of the JDK's classes
 * so the JVM starts fast under emulation. Both tools run in-process from the running JDK (JDK 25 links from its
 * own run-time image: no {@code jmods} needed). A linked runtime is kept in a cache keyed by the JDK and the
 * module list, as linking takes seconds.
 */
final class JavaRuntime {
    /** jlink options: what makes the runtime small and quick to start. */
    static final List<String> JLINK_OPTIONS = List.of("--strip-debug", "--no-header-files", "--no-man-pages",
            "--generate-cds-archive");

    private JavaRuntime() {}

    /** The modules {@code jars} need, comma-separated, e.g. {@code java.base,jdk.unsupported}. */
    static String modules(List<Path> jars) throws ImageException {
        List<String> args = new ArrayList<>(List.of("--multi-release", Integer.toString(Runtime.version().feature()),
                "--ignore-missing-deps", "--print-module-deps"));
        jars.forEach(j -> args.add(j.toString()));
        String out = run("jdeps", args).strip();
        String last = out.lines().reduce((a, b) -> b).orElse("").strip();
        if (!last.matches("[\\w.]+(,[\\w.]+)*")) {
            throw new ImageException("jdeps did not list the kernel's modules: " + out);
        }
        return last;
    }

    /**
     * A linked runtime for {@code modules}, from the cache or made now.
     *
     * @param cacheDir where linked runtimes are kept
     * @return the runtime's directory (holds {@code bin/java})
     */
    static Path link(String modules, Path cacheDir) throws ImageException {
        String key = io.ukernel.app.bundle.Sha256.hex((System.getProperty("java.home") + "\n" + Runtime.version()
                + "\n" + modules + "\n" + JLINK_OPTIONS + "\nstrip=" + Strip.available()).getBytes(StandardCharsets.UTF_8)).substring(0, 16);
        Path dir = cacheDir.resolve("jre-" + key);
        if (Files.isRegularFile(dir.resolve("bin/java")) && Files.isRegularFile(dir.resolve(".complete"))) {
            return dir;
        }
        try {
            Files.createDirectories(cacheDir);
            sweepAbandoned(cacheDir);
            ImageFiles.deleteTree(dir);
            // The pid in the name lets a later pack remove what a killed one left (see sweepAbandoned).
            Path tmp = Files.createTempDirectory(cacheDir, TMP_PREFIX + ProcessHandle.current().pid() + "-");
            Path out = tmp.resolve("jre");
            List<String> args = new ArrayList<>(List.of("--add-modules", modules, "--output", out.toString()));
            args.addAll(JLINK_OPTIONS);
            runJlink(args, tmp);
            // Used only with heaps over 32 GiB: a 14 MiB file no guest needs.
            Files.deleteIfExists(out.resolve("lib/server/classes_nocoops.jsa"));
            for (Path p : ImageFiles.walk(out)) {
                if (p.getFileName().toString().endsWith(".so")) {
                    Strip.inPlace(p);
                }
            }
            Files.writeString(out.resolve(".complete"), modules + "\n");
            try {
                Files.move(out, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException raced) {
                // another pack linked the same runtime meanwhile: use theirs
            }
            ImageFiles.deleteTree(tmp);
            return dir;
        } catch (IOException e) {
            throw new ImageException("cannot link the guest's Java runtime: " + e.getMessage(), e);
        }
    }

    /**
     * jlink as a process when the JDK has the binary: its CDS step starts the new runtime, whose warnings about
     * classes of modules left out would otherwise reach the terminal.
     */
    private static void runJlink(List<String> args, Path tmp) throws ImageException, IOException {
        Path bin = Path.of(System.getProperty("java.home"), "bin", "jlink");
        if (!Files.isExecutable(bin)) {
            run("jlink", args);
            return;
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(bin.toString());
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        // Ctrl-C (or SIGTERM) of `ukernel pack` runs shutdown hooks: jlink must not outlive us, nor its 80 MB of
        // half-linked runtime stay in the cache.
        Thread cleanup = new Thread(() -> {
            p.destroyForcibly();
            try {
                p.waitFor();
                ImageFiles.deleteTree(tmp);
            } catch (IOException | InterruptedException ignored) {
                // a later pack's sweepAbandoned removes what is left
            }
        }, "jlink-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new ImageException("jlink failed (exit " + p.exitValue() + "): " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new ImageException("interrupted while linking the Java runtime");
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run
            }
        }
    }

    static final String TMP_PREFIX = "jre-tmp-";

    /**
     * Removes the temporary directories of packs that were killed before they could (SIGKILL runs no hook):
     * {@code jre-tmp-PID-*} whose PID is no longer a live process. A live pack's directory is left alone.
     */
    static void sweepAbandoned(Path cacheDir) throws IOException {
        if (!Files.isDirectory(cacheDir)) {
            return;
        }
        try (var entries = Files.newDirectoryStream(cacheDir, TMP_PREFIX + "*")) {
            for (Path p : entries) {
                String rest = p.getFileName().toString().substring(TMP_PREFIX.length());
                int dash = rest.indexOf('-');
                long pid;
                try {
                    pid = Long.parseLong(dash < 0 ? rest : rest.substring(0, dash));
                } catch (NumberFormatException e) {
                    pid = -1;       // a name from before pids were recorded: abandoned by now
                }
                if (pid < 0 || ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) == false) {
                    ImageFiles.deleteTree(p);
                }
            }
        }
    }

    private static String run(String tool, List<String> args) throws ImageException {
        ToolProvider tp = ToolProvider.findFirst(tool).orElseThrow(() -> new ImageException("`ukernel pack` needs "
                + tool + ", which this Java runtime lacks: run ukernel with a full JDK 25 (JAVA_HOME)"));
        StringWriter out = new StringWriter();
        int rc;
        try (PrintWriter w = new PrintWriter(out)) {
            rc = tp.run(w, w, args.toArray(String[]::new));
        }
        if (rc != 0) {
            throw new ImageException(tool + " failed (exit " + rc + "): " + out.toString().strip());
        }
        return out.toString();
    }
}
