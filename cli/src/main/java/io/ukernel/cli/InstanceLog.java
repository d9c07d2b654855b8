package io.ukernel.cli;

import io.ukernel.app.json.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The log files of one run of an app ("instance"): {@code logs/<instance-id>/console.log}, never touched by another
 * run, with {@code logs/console.log} a symbolic link to the latest instance's log (what {@code ukernel logs DIR}
 * reads). Each instance's log is rotated by size ({@code console.log.1} ... {@code .N}, the oldest dropped), and
 * only the last {@link #KEEP_INSTANCES} instance directories are kept — never one still being written (its
 * {@code .lock} is held by its writer, in this process or another).
 *
 * <p>{@code instance.json} beside the log records the instance's id, app name and wall-clock start, from which
 * {@code ukernel logs -t/--since} turn the console's seconds-since-boot into times.
 */
final class InstanceLog implements AutoCloseable {
    /** Instance directories kept per app. */
    static final int KEEP_INSTANCES = 10;
    /** Rotated files kept per instance. */
    static final int KEEP_ROTATED = 3;
    /** Size at which an instance's console.log is rotated. */
    static final long DEFAULT_MAX_BYTES = 10L << 20;

    private static final DateTimeFormatter ID_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
            .withZone(ZoneOffset.UTC);

    private final String id;
    private final Path dir;
    private final Path log;
    private final long bootWallMs;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final RotatingStream stream;

    private InstanceLog(String id, Path dir, long bootWallMs, long maxBytes) throws IOException {
        this.id = id;
        this.dir = dir;
        this.log = dir.resolve("console.log");
        this.bootWallMs = bootWallMs;
        this.lockChannel = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        this.lock = lockChannel.lock();
        this.stream = new RotatingStream(log, maxBytes, KEEP_ROTATED);
    }

    /**
     * Creates a new instance's directory under {@code appDir/logs}, points {@code logs/console.log} at it and
     * prunes old instances. {@code bootWallMs} is the wall-clock time the kernel's console counts from.
     */
    private static final java.nio.file.attribute.FileAttribute<?> PRIVATE =
            java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));

    /** A logs/ directory the kernel will not write into (a link, another user's): the user must change it. */
    static final class Refused extends IOException {
        Refused(String message) {
            super(message);
        }
    }

    static InstanceLog create(Path appDir, String appName, long bootWallMs) throws IOException {
        return create(appDir, appName, bootWallMs, DEFAULT_MAX_BYTES);
    }

    static InstanceLog create(Path appDir, String appName, long bootWallMs, long maxBytes) throws IOException {
        Path logs = appDir.resolve("logs");
        // Private to the kernel's user (0700, like its instance directories below): an app's console carries what
        // its tasks print, and another local user of the host has no business reading it.
        Files.createDirectories(logs, PRIVATE);
        // A root kernel must not follow a link the app directory's owner planted (logs -> /etc/...): it would
        // create directories and files of its choosing anywhere. Red team, found open after the first pass.
        if (Files.isSymbolicLink(logs)) {
            throw new Refused(logs + " is a symbolic link; the kernel writes its logs only into a real directory"
                    + " (remove the link: rm " + logs + ")");
        }
        String id;
        Path dir;
        do {
            id = ID_TIME.format(Instant.ofEpochMilli(bootWallMs)) + "-"
                    + String.format("%04x", ThreadLocalRandom.current().nextInt(0x10000));
            dir = logs.resolve(id);
        } while (Files.exists(dir));
        Files.createDirectories(dir, PRIVATE);
        Object owner = Files.getAttribute(logs, "unix:uid", java.nio.file.LinkOption.NOFOLLOW_LINKS);
        if (!owner.equals(Files.getAttribute(dir, "unix:uid", java.nio.file.LinkOption.NOFOLLOW_LINKS))) {
            // Another user owns logs/ and could swap what is beneath it between our checks and our writes.
            Files.delete(dir);
            throw new Refused(logs + " belongs to uid " + owner + ", not to the user running the kernel;"
                    + " it writes logs only into its own directory (remove " + logs + ", or run as uid " + owner + ")");
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("id", id);
        meta.put("app", appName);
        meta.put("boot_wall_ms", bootWallMs);
        meta.put("pid", ProcessHandle.current().pid());
        Files.writeString(dir.resolve("instance.json"), Json.write(meta) + "\n", StandardCharsets.UTF_8);
        InstanceLog il = new InstanceLog(id, dir, bootWallMs, maxBytes);
        pointLatest(logs, id);
        prune(logs);
        return il;
    }

    /** {@code logs/console.log} -> {@code <id>/console.log}, replaced atomically; an old plain file is kept as .1. */
    private static void pointLatest(Path logs, String id) throws IOException {
        Path link = logs.resolve("console.log");
        if (Files.isRegularFile(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            Files.move(link, logs.resolve("console.log.1"), StandardCopyOption.REPLACE_EXISTING);
        }
        Path tmp = logs.resolve(".console.log." + id);
        Files.deleteIfExists(tmp);
        Files.createSymbolicLink(tmp, Path.of(id, "console.log"));
        Files.move(tmp, link, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Deletes all but the newest {@link #KEEP_INSTANCES} instance directories, skipping any still written. */
    static void prune(Path logs) throws IOException {
        List<Path> dirs;
        try (Stream<Path> s = Files.list(logs)) {
            dirs = s.filter(p -> Files.isRegularFile(p.resolve("instance.json")))
                    .sorted(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed()).toList();
        }
        for (Path old : dirs.subList(Math.min(KEEP_INSTANCES, dirs.size()), dirs.size())) {
            if (!inUse(old)) {
                deleteTree(old);
            }
        }
    }

    private static boolean inUse(Path dir) {
        Path lockFile = dir.resolve(".lock");
        if (!Files.exists(lockFile)) {
            return false;
        }
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
            FileLock l = ch.tryLock();
            if (l == null) {
                return true;
            }
            l.release();
            return false;
        } catch (OverlappingFileLockException e) {
            return true;                       // held by this JVM (another app of the host)
        } catch (IOException e) {
            return true;
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // pruned next time
        }
    }

    String id() {
        return id;
    }

    Path dir() {
        return dir;
    }

    /** This instance's current log. */
    Path log() {
        return log;
    }

    long bootWallMs() {
        return bootWallMs;
    }

    /** Where the console writes: rotated by size at line boundaries (the console flushes after each line). */
    OutputStream stream() {
        return stream;
    }

    @Override
    public void close() throws IOException {
        try {
            stream.close();
        } finally {
            try {
                lock.release();
            } finally {
                lockChannel.close();
            }
        }
    }

    /**
     * An append-only file that, on {@link #flush} past {@code maxBytes}, becomes {@code NAME.1} (older ones shift
     * to {@code .2} ... {@code .keep}, the oldest dropped) and a fresh file is opened. The console flushes after
     * every line, so a line is never split across two files.
     */
    static final class RotatingStream extends OutputStream {
        private final Path file;
        private final long maxBytes;
        private final int keep;
        private OutputStream out;
        private long size;

        RotatingStream(Path file, long maxBytes, int keep) throws IOException {
            this.file = file;
            this.maxBytes = maxBytes;
            this.keep = keep;
            open();
        }

        private void open() throws IOException {
            out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            size = Files.size(file);
        }

        @Override
        public synchronized void write(int b) throws IOException {
            out.write(b);
            size++;
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            size += len;
        }

        @Override
        public synchronized void flush() throws IOException {
            out.flush();
            if (size >= maxBytes) {
                rotate();
            }
        }

        private void rotate() throws IOException {
            out.close();
            Files.deleteIfExists(file.resolveSibling(file.getFileName() + "." + keep));
            for (int i = keep - 1; i >= 1; i--) {
                Path from = file.resolveSibling(file.getFileName() + "." + i);
                if (Files.exists(from)) {
                    Files.move(from, file.resolveSibling(file.getFileName() + "." + (i + 1)),
                            StandardCopyOption.REPLACE_EXISTING);
                }
            }
            Files.move(file, file.resolveSibling(file.getFileName() + ".1"), StandardCopyOption.REPLACE_EXISTING);
            open();
        }

        @Override
        public synchronized void close() throws IOException {
            out.close();
        }
    }
}
