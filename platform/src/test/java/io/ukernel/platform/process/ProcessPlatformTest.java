package io.ukernel.platform.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.platform.spi.Worker;
import io.ukernel.platform.spi.WorkerListener;
import io.ukernel.platform.spi.WorkerSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real python3 processes started the way the kernel starts workers, with a stand-in boot script. */
class ProcessPlatformTest {
    final List<String> lines = new CopyOnWriteArrayList<>();
    final CompletableFuture<Integer> exit = new CompletableFuture<>();
    final WorkerListener listener = new WorkerListener() {
        @Override
        public void output(String line, boolean stderr) {
            lines.add((stderr ? "err: " : "out: ") + line);
        }

        @Override
        public void exited(int status) {
            exit.complete(status);
        }
    };

    static Path bundleWithBoot(Path dir, String script) throws IOException {
        Path boot = dir.resolve(ProcessPlatform.BOOT_SCRIPT);
        Files.createDirectories(boot.getParent());
        Files.writeString(boot, script);
        return dir;
    }

    static Path python() throws Exception {
        Process p = new ProcessBuilder("python3", "-c", "import sys; print(sys.executable)").start();
        String exe = new String(p.getInputStream().readAllBytes()).strip();
        p.waitFor();
        return Path.of(exe);
    }

    WorkerSpec spec(Path bundle, Map<String, String> env) {
        return new WorkerSpec(1, "main", "src/main.py", bundle, Path.of("/tmp/abi.sock"), "ab12", env);
    }

    @Test
    void worker_getsOnlyTheAppEnvironmentAndTheAbiVariables(@TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, """
                import os, sys
                for k in sorted(os.environ):
                    print(k + "=" + os.environ[k])
                print("flags", sys.flags.isolated, sys.flags.no_site)
                print("cwd", os.getcwd())
                """);
        new ProcessPlatform(python(), "3").start(spec(bundle, Map.of("GREETING", "hi")), listener);
        assertEquals(0, exit.get(20, TimeUnit.SECONDS));
        assertTrue(lines.contains("out: GREETING=hi"), lines.toString());
        assertTrue(lines.contains("out: UKERNEL_ENDPOINT=/tmp/abi.sock"), lines.toString());
        assertTrue(lines.contains("out: UKERNEL_TOKEN=ab12"), lines.toString());
        assertTrue(lines.contains("out: UKERNEL_ENTRY=src/main.py"), lines.toString());
        assertTrue(lines.contains("out: flags 1 1"), "must run isolated (-I) without site (-S): " + lines);
        assertTrue(lines.contains("out: cwd " + bundle.toRealPath()), lines.toString());
        assertFalse(lines.stream().anyMatch(l -> l.startsWith("out: HOME=") || l.startsWith("out: JAVA_HOME=")
                || l.startsWith("out: MAVEN")), "the kernel's own environment must not leak: " + lines);
    }

    @Test
    void stdoutAndStderr_arriveAsLines_beforeTheExit(@TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, """
                import sys
                print("one"); print("two", file=sys.stderr); print("three")
                sys.exit(3)
                """);
        new ProcessPlatform(python(), "3").start(spec(bundle, Map.of()), listener);
        assertEquals(3, exit.get(20, TimeUnit.SECONDS));
        assertTrue(lines.containsAll(List.of("out: one", "err: two", "out: three")), lines.toString());
    }

    @Test
    void terminate_sendsSigterm_andTheStatusSaysSo(@TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, """
                import time
                print("ready", flush=True)
                time.sleep(60)
                """);
        Worker w = new ProcessPlatform(python(), "3").start(spec(bundle, Map.of()), listener);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!lines.contains("out: ready") && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(w.alive());
        w.terminate();
        assertEquals(128 + 15, exit.get(20, TimeUnit.SECONDS));
        assertFalse(w.alive());
    }

    @Test
    void missingInterpreter_isAnIOException_namingIt(@TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, "print('never')");
        try {
            new ProcessPlatform(dir.resolve("no-such-python"), "3").start(spec(bundle, Map.of()), listener);
            throw new AssertionError("started a missing interpreter");
        } catch (IOException e) {
            assertTrue(e.getMessage().contains("no-such-python"), e.getMessage());
        }
    }
}
