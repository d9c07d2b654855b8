package io.ukernel.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ukernel.abi.Cap;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.LineFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ABI is language-neutral: the C client library ({@code clients/c}) and the example worker
 * ({@code examples/c-worker}) are compiled with gcc and run as a real process against the real kernel, which
 * knows nothing about C. Requires gcc (the tests are skipped without it).
 */
@Timeout(value = 600, unit = TimeUnit.SECONDS)
class CWorkerTest {
    private static final List<String> CFLAGS = List.of("-std=c11", "-Wall", "-Wextra", "-Werror", "-O2");
    private static final long BOOT_TIMEOUT_S = 120; // bounds a hang only: the run ends when the worker does

    @TempDir
    static Path dir;

    static Path repo;
    static Path worker;

    @BeforeAll
    static void compile() throws Exception {
        String prop = System.getProperty("ukernel.repo");
        if (prop == null) {
            throw new IllegalStateException("system property ukernel.repo is not set (surefire sets it)");
        }
        repo = Path.of(prop);
        Assumptions.assumeTrue(gccAvailable(), "gcc is not installed: the C worker cannot be built");
        worker = gcc("c-worker", "clients/c/ukernel.c", "examples/c-worker/worker.c");
    }

    @Test
    void cWorker_roundTripsAChannel_andExitsZero() throws Exception {
        Run run = boot(Cap.LOG.bit() | Cap.TIME.bit() | Cap.IPC.bit(), worker);
        assertEquals(0, run.status(), run.console());
        assertTrue(run.console().contains("main#1 INFO  caps: acquired LOG|TIME|IPC"), run.console());
        assertTrue(run.console().contains("main#1 INFO  c-worker: task 1 up at monotonic "), run.console());
        assertTrue(run.console().matches("(?s).*main#1 INFO  c-worker: io_poll: endpoint [1-9][0-9]* WRITABLE.*"),
                run.console());
        assertTrue(run.console().contains("main#1 INFO  c-worker: channel round trip ok"), run.console());
        assertTrue(run.console().contains("task main#1 exited with status 0"), run.console());
        assertTrue(!run.console().contains(" ERR ") && !run.console().contains("disconnected from the kernel"),
                run.console());
    }

    @Test
    void cWorker_withoutIpcGranted_isDenied_andExitsNonZero() throws Exception {
        Run run = boot(Cap.LOG.bit() | Cap.TIME.bit(), worker);
        assertNotEquals(0, run.status(), run.console());
        assertEquals(3, run.status(), run.console());
        // the kernel's audit line, then the worker's own report (it re-acquired LOG alone to say so)
        assertTrue(run.console().contains("main#1 WARN  caps: denied LOG|TIME|IPC: IPC beyond this task's ceiling "
                + "LOG|TIME"), run.console());
        assertTrue(run.console().contains("main#1 ERROR c-worker: cap_acquire(LOG|TIME|IPC) failed: UK_ERR_DENIED"),
                run.console());
        assertTrue(!run.console().contains("channel round trip ok"), run.console());
        assertTrue(run.console().contains("task main#1 exited with status 3"), run.console());
    }

    @Test
    void cWorker_directSockets_receivesGrantedDescriptors_andMovesTheBytesItself() throws Exception {
        Path direct = gcc("test-direct", "clients/c/ukernel.c", "clients/c/test_direct.c");
        Run run = boot(Cap.LOG.bit() | Cap.NET.bit(), direct,
                new Policy.NetScope(List.of("127.0.0.1:*"), List.of("127.0.0.1:0")));
        assertEquals(0, run.status(), run.console());
        assertTrue(run.console().contains("c-direct: granted round trip ok on port"), run.console());
        assertTrue(run.console().contains("net_accept: socket"), run.console());
        assertTrue(run.console().contains("closed: the kernel shut down the granted descriptor"), run.console());
    }

    @Test
    void cCodec_selfTest_passes() throws Exception {
        Path test = gcc("test-codec", "clients/c/ukernel.c", "clients/c/test_codec.c");
        Output out = exec(List.of(test.toString()), 30);
        assertEquals(0, out.status(), out.text());
        assertTrue(out.text().contains("test_codec: all passed"), out.text());
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    record Run(int status, String console) {}

    record Output(int status, String text) {}

    /** Boots the real kernel with the C binary as the main task's worker; returns its exit status and console. */
    static Run boot(long grant, Path executable) throws Exception {
        return boot(grant, executable, Policy.NetScope.none());
    }

    /** As {@link #boot(long, Path)}, with the app's {@code [caps.net]} allow-lists. */
    static Run boot(long grant, Path executable, Policy.NetScope net) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Policy m = new Policy("c-worker", executable.getFileName().toString(),
                "3.11", grant, net, Map.of(), Policy.Limits.defaults(),
                Policy.RestartPolicy.never(), List.of());
        Console console = Console.open(KernelClock.system(), LineFormat.TEXT,
                new PrintStream(bytes, true, StandardCharsets.UTF_8), null, true);
        Kernel k = new Kernel(new KernelConfig(m, dir, dir, Map.of(), new CWorkerPlatform(executable), console,
                KernelClock.system(), TimeUnit.SECONDS.toNanos(2)));
        CompletableFuture<Integer> done = new CompletableFuture<>();
        Thread.ofPlatform().name("c-worker-kernel").daemon().start(() -> {
            try {
                done.complete(k.run());
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        try {
            int status = done.get(BOOT_TIMEOUT_S, TimeUnit.SECONDS);
            return new Run(status, bytes.toString(StandardCharsets.UTF_8));
        } catch (TimeoutException e) {
            k.stopNow("test timeout");
            done.get(10, TimeUnit.SECONDS);
            return fail("the kernel did not end within " + BOOT_TIMEOUT_S + " s:\n"
                    + bytes.toString(StandardCharsets.UTF_8));
        } catch (ExecutionException e) {
            throw new AssertionError("the kernel failed:\n" + bytes.toString(StandardCharsets.UTF_8), e.getCause());
        }
    }

    /** Compiles the sources (paths relative to the repository) into {@code dir/name} with the strict flags. */
    static Path gcc(String name, String... sources) throws Exception {
        Path out = dir.resolve(name);
        List<String> cmd = new ArrayList<>(List.of("gcc"));
        cmd.addAll(CFLAGS);
        cmd.addAll(List.of("-I", repo.resolve("include").toString(), "-I", repo.resolve("clients/c").toString()));
        for (String s : sources) {
            cmd.add(repo.resolve(s).toString());
        }
        cmd.addAll(List.of("-o", out.toString()));
        Output r = exec(cmd, 60);
        assertEquals(0, r.status(), "gcc failed: " + String.join(" ", cmd) + "\n" + r.text());
        assertTrue(Files.isExecutable(out), out.toString());
        return out;
    }

    static boolean gccAvailable() {
        try {
            return exec(List.of("gcc", "--version"), 30).status() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    /** Runs a command to completion (stdout and stderr merged), killing it after {@code timeoutS}. */
    static Output exec(List<String> cmd, long timeoutS) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        CompletableFuture<String> text = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "<output lost: " + e + ">";
            }
        });
        if (!p.waitFor(timeoutS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
            return new Output(-1, "timed out after " + timeoutS + " s: " + String.join(" ", cmd));
        }
        try {
            return new Output(p.exitValue(), text.get(10, TimeUnit.SECONDS));
        } catch (ExecutionException | TimeoutException e) {
            return new Output(p.exitValue(), "<output lost: " + e + ">");
        }
    }
}
