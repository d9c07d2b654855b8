package io.ukernel.cli;

import io.ukernel.app.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What is running: one small JSON file per {@code ukernel run}, named by its pid, in {@code ~/.ukernel/run/}
 * ({@code $UKERNEL_RUN_DIR} overrides; else {@code $UKERNEL_HOME/run}). A file whose process is gone — or whose pid now belongs to another process
 * (the start time differs) — is stale and removed when read. Written by {@code run} on either platform, read by
 * {@code ps} and {@code stop}.
 */
final class RunRegistry {
    /** Environment variable naming the directory. */
    static final String ENV = "UKERNEL_RUN_DIR";

    /**
     * One running app.
     *
     * @param name     the app's name
     * @param pid      the {@code ukernel run} process (SIGTERM stops the app cleanly)
     * @param started  when it started
     * @param platform {@code process} or {@code microvm}
     * @param vmm      {@code qemu}, {@code firecracker}, or empty on the process platform
     * @param appDir   the app's directory
     * @param ports    published ports, e.g. {@code 127.0.0.1:8080->80}, or empty
     */
    record Entry(String name, long pid, Instant started, String platform, String vmm, String appDir, String ports) {}

    /** Removes its file when closed. */
    interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    private RunRegistry() {}

    static Path dir() {
        String env = System.getenv(ENV);
        return env != null && !env.isBlank() ? Path.of(env) : Host.home().resolve("run");
    }

    /** Records this process as running {@code name}; failures are ignored (ps is a convenience). */
    static Registration register(String name, String platform, String vmm, Path appDir, String ports) {
        ProcessHandle self = ProcessHandle.current();
        Path file = dir().resolve(self.pid() + ".json");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("pid", self.pid());
        m.put("started", self.info().startInstant().orElse(Instant.now()).toString());
        m.put("platform", platform);
        m.put("vmm", vmm);
        m.put("app", appDir.toString());
        m.put("ports", ports);
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, Json.write(m) + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            return () -> { };
        }
        Thread hook = new Thread(() -> deleteQuietly(file), "ukernel-run-registry");
        try {
            Runtime.getRuntime().addShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the file is removed below or found stale later
        }
        return () -> {
            deleteQuietly(file);
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // fine
            }
        };
    }

    /** The running apps, oldest first; stale files are removed. */
    static List<Entry> list() {
        List<Entry> out = new ArrayList<>();
        Path d = dir();
        if (!Files.isDirectory(d)) {
            return out;
        }
        try (Stream<Path> s = Files.list(d)) {
            for (Path f : s.filter(p -> p.getFileName().toString().matches("\\d+\\.json")).toList()) {
                read(f).ifPresentOrElse(out::add, () -> deleteQuietly(f));
            }
        } catch (IOException e) {
            return out;
        }
        out.sort(Comparator.comparing(Entry::started));
        return out;
    }

    private static Optional<Entry> read(Path f) {
        try {
            Map<String, Object> m = Json.readObject(Files.readString(f, StandardCharsets.UTF_8));
            long pid = ((Number) m.get("pid")).longValue();
            Instant started = Instant.parse((String) m.get("started"));
            Optional<ProcessHandle> ph = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
            if (ph.isEmpty()) {
                return Optional.empty();
            }
            Optional<Instant> actual = ph.get().info().startInstant();
            if (actual.isPresent() && Math.abs(actual.get().toEpochMilli() - started.toEpochMilli()) > 2000) {
                return Optional.empty();        // the pid was reused
            }
            return Optional.of(new Entry((String) m.get("name"), pid, started, (String) m.get("platform"),
                    String.valueOf(m.getOrDefault("vmm", "")), (String) m.get("app"),
                    String.valueOf(m.getOrDefault("ports", ""))));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static void deleteQuietly(Path f) {
        try {
            Files.deleteIfExists(f);
        } catch (IOException ignored) {
            // found stale later
        }
    }
}
