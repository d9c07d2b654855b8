package io.ukernel.vmm.image;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The guest JVM's AOT cache (JDK 25, JEP 483/514): classes loaded and linked, method handles and the FFM
 * plumbing resolved, by a training run on the host ({@code GuestInit --train}) with the image's own runtime and
 * class path. Under emulation it halves the time from the JVM's start to the kernel's banner.
 *
 * <p>A cache is valid only for the same runtime, the same class path (as written) and jars of the same size and
 * time. So the image names its jars relative to {@code /} ({@code ukernel/lib/...}: the guest's init runs in
 * {@code /}), the training runs in a staging directory laid out the same way, and the jars there get the image's
 * fixed time. Caches are kept by runtime, jars and options; when training fails, the image has no cache and the
 * guest starts with the runtime's default CDS archive.
 */
final class AotCache {
    /** The cache's path in the image, relative to / (as the JVM's option names it). */
    static final String GUEST_PATH = "ukernel/kernel.aot";

    private AotCache() {}

    /**
     * Stages {@code jars} under {@code stage/ukernel/lib} with {@code mtime}; returns their relative class path.
     */
    static List<String> stageJars(List<Path> jars, Path stage, long mtime) throws IOException {
        List<String> cp = new ArrayList<>();
        Path lib = stage.resolve("ukernel/lib");
        Files.createDirectories(lib);
        for (Path j : jars) {
            Path dst = lib.resolve(j.getFileName());
            Files.copy(j, dst, StandardCopyOption.REPLACE_EXISTING);
            Files.setLastModifiedTime(dst, FileTime.fromMillis(mtime * 1000));
            cp.add("ukernel/lib/" + j.getFileName());
        }
        return cp;
    }

    /**
     * The cache for this runtime, class path and options: from the cache directory, or trained now.
     *
     * @param jre        the linked runtime (its {@code bin/java} runs the training)
     * @param stage      the staging directory holding {@code ukernel/lib/*.jar}
     * @param classPath  the relative class path
     * @param jvmOptions the guest JVM's options
     * @param python     the host interpreter for the training worker
     * @param adapter    the Python adapter ({@code ukernel/} package directory) for the training app
     * @param key        what identifies the inputs (runtime, jars' hash, time)
     * @param cacheDir   where caches are kept
     * @param log        where the training's output goes
     * @return the cache, or empty when training failed (the reason is in {@code log})
     */
    static Optional<Path> get(Path jre, Path stage, List<String> classPath, List<String> jvmOptions, Path python,
            Path adapter, String key, Path cacheDir, Path log) throws IOException {
        String id = io.ukernel.app.bundle.Sha256.hex((jre.getFileName() + "\n" + key + "\n" + jvmOptions + "\n"
                + classPath).getBytes(StandardCharsets.UTF_8)).substring(0, 16);
        Path cached = cacheDir.resolve("kernel-" + id + ".aot");
        if (Files.isRegularFile(cached)) {
            return Optional.of(cached);
        }
        Files.createDirectories(cacheDir);
        Path app = stage.resolve("train-app");
        writeApp(app, adapter);
        Path tmp = cacheDir.resolve("kernel-" + id + ".aot.tmp" + ProcessHandle.current().pid());
        List<String> cmd = new ArrayList<>();
        cmd.add(jre.resolve("bin/java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-XX:AOTCacheOutput=" + tmp);
        cmd.add("-cp");
        cmd.add(String.join(":", classPath));
        cmd.addAll(List.of(ImageBuilder.MAIN_CLASS, "--train", python.toString(), app.toString()));
        Process p = new ProcessBuilder(cmd).directory(stage.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        try {
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return Optional.empty();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            return Optional.empty();
        } finally {
            Files.deleteIfExists(Path.of(tmp + ".config"));
        }
        if (p.exitValue() != 0 || !Files.isRegularFile(tmp)) {
            Files.deleteIfExists(tmp);
            return Optional.empty();
        }
        Files.move(tmp, cached, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return Optional.of(cached);
    }

    private static void writeApp(Path dir, Path adapter) throws IOException {
        Files.createDirectories(dir.resolve("src"));
        Files.writeString(dir.resolve("ukernel.toml"), """
                name = "train"
                entry = "src/main.py"
                python = "3.11"

                [caps]
                grant = ["LOG", "TIME"]
                """, StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("src/main.py"), """
                import asyncio

                import ukernel


                async def main():
                    ukernel.cap_acquire(ukernel.Cap.LOG, ukernel.Cap.TIME)
                    ukernel.info("training the guest's start-up cache")
                    await asyncio.sleep(0)
                    return 0
                """, StandardCharsets.UTF_8);
        Path dst = dir.resolve("adapter/ukernel");
        Files.createDirectories(dst);
        for (Path f : ImageFiles.walk(adapter)) {
            Path t = dst.resolve(adapter.relativize(f).toString());
            Files.createDirectories(t.getParent());
            Files.copy(f, t, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
