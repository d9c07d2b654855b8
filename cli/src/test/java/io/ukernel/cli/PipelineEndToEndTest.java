package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The developer pipeline as a user runs it, from a temp dir: {@code init → build → build → run → logs}, with
 * {@code ukernel run} as a real JVM process driving a real python3 worker through the real kernel.
 */
class PipelineEndToEndTest {
    private static final Pattern WORKER_PID = Pattern.compile("task main#1 started: pid (\\d+)");
    /** Bounds a hang only (a JVM and a worker start per run, on a machine that may be loaded). */
    private static final int HANG_S = 180;

    @BeforeAll
    static void adapter() {
        CliTesting.useRepoAdapter();
    }

    /**
     * Starts {@code ukernel ARGS} in its own JVM, as the launcher would. Its terminal output goes to a file beside
     * the app (Process.destroy() closes the pipes, and the test must still read what the kernel printed).
     */
    static Process ukernel(Path cwd, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "-D" + AdapterResources.PROPERTY + "=" + System.getProperty(AdapterResources.PROPERTY),
                "io.ukernel.cli.Main"));
        cmd.addAll(List.of(args));
        Path terminal = terminalOf(cwd);
        return new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true)
                .redirectOutput(terminal.toFile()).start();
    }

    static Path terminalOf(Path cwd) {
        return cwd.resolveSibling(cwd.getFileName() + ".terminal");
    }

    static String waitFor(Process p, Path cwd, int seconds) throws Exception {
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("ukernel did not end within " + seconds + " s:\n"
                    + Files.readString(terminalOf(cwd), StandardCharsets.UTF_8));
        }
        return Files.readString(terminalOf(cwd), StandardCharsets.UTF_8);
    }

    /** Polls the console log until {@code needle} appears. */
    static String awaitLog(Path log, String needle, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (Files.exists(log)) {
                String text = Files.readString(log);
                if (text.contains(needle)) {
                    return text;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no \"" + needle + "\" in " + log + " after " + seconds + " s:\n"
                + (Files.exists(log) ? Files.readString(log) : "(no log)"));
    }

    @Test
    void initBuildRunLogs_asAUserWould(@TempDir Path tmp) throws Exception {
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", "demo", "--dir", tmp.resolve("demo").toString())
                .exit());
        Path app = tmp.resolve("demo");

        assertEquals(0, CliTesting.run(new UkernelCommand(), "build", app.toString()).exit());
        byte[] first = Files.readAllBytes(app.resolve("build/bundle.tgz"));
        Files.delete(app.resolve("build/bundle.tgz"));
        assertEquals(0, CliTesting.run(new UkernelCommand(), "build", app.toString()).exit());
        assertArrayEquals(first, Files.readAllBytes(app.resolve("build/bundle.tgz")), "build is not reproducible");

        Process run = ukernel(app, "run", "-e", "GREETING=from-the-test");
        Path log = app.resolve("logs/console.log");
        String text = awaitLog(log, "heartbeat 3", HANG_S);
        Matcher pid = WORKER_PID.matcher(text);
        assertTrue(pid.find(), text);
        long workerPid = Long.parseLong(pid.group(1));

        run.destroy(); // SIGTERM to the kernel, as an operator or a service manager would
        String terminal = waitFor(run, app, HANG_S);
        assertEquals(143, run.exitValue(), "ukernel run must exit with the worker's status\n" + terminal);
        assertFalse(ProcessHandle.of(workerPid).map(ProcessHandle::isAlive).orElse(false), "worker left behind");

        CliTesting.Run logs = CliTesting.run(new UkernelCommand(), "logs", app.toString());
        String shown = logs.out();
        assertTrue(shown.contains("kernel#0 INFO  ukernel 0.1.0 · ABI " + io.ukernel.abi.Abi.formatVersion(io.ukernel.abi.Abi.VERSION) + " · platform process"), shown);
        assertTrue(shown.contains("policy: grant LOG|TIME"), shown);
        assertTrue(shown.contains("main#1 INFO  caps: acquired LOG|TIME"), shown);
        assertTrue(shown.contains("main#1 INFO  GREETING=from-the-test"), shown);
        for (int n = 1; n <= 3; n++) {
            assertTrue(Pattern.compile("\\] main#1 INFO  heartbeat " + n + " \\(uptime").matcher(shown).find(), shown);
        }
        assertTrue(shown.contains("stopping: SIGTERM received"), shown);
        assertTrue(shown.contains("task main#1 exited with status 143 (SIGTERM)"), shown);
        assertTrue(shown.contains("app demo ended with status 143"), shown);
        assertEquals(terminal.lines().filter(l -> l.startsWith("[")).toList(),
                shown.lines().toList(), "the terminal and logs/console.log must show the same lines");
    }

    @Test
    void environment_envFilesAddToTheAppsFile_andABareKeyPassesTheShellsValue(@TempDir Path tmp) throws Exception {
        Path app = tmp.resolve("app");
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", "app", "--dir", app.toString()).exit());
        Files.writeString(app.resolve("env/ukernel.env"), "GREETING=from-the-app-file\nHEARTBEATS=7\n");
        Files.writeString(tmp.resolve("extra.env"), "HEARTBEATS=1\n");

        // --env-file adds to env/ukernel.env (its HEARTBEATS wins; GREETING stays the app file's)
        Process run = ukernel(app, "run", "--env-file", tmp.resolve("extra.env").toString());
        String terminal = waitFor(run, app, HANG_S);
        assertEquals(0, run.exitValue(), terminal);
        assertTrue(terminal.contains("GREETING=from-the-app-file"), terminal);
        assertTrue(terminal.contains("heartbeat 1 ") && !terminal.contains("heartbeat 2 "), terminal);

        // -e KEY takes the value this shell has
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "-D" + AdapterResources.PROPERTY + "=" + System.getProperty(AdapterResources.PROPERTY),
                "io.ukernel.cli.Main", "run", "-e", "GREETING", "-e", "HEARTBEATS=1"));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(app.toFile()).redirectErrorStream(true)
                .redirectOutput(terminalOf(app).toFile());
        pb.environment().put("GREETING", "from-the-shell");
        run = pb.start();
        terminal = waitFor(run, app, HANG_S);
        assertEquals(0, run.exitValue(), terminal);
        assertTrue(terminal.contains("GREETING=from-the-shell"), terminal);

        // unset in the shell, or a missing --env-file: refused before anything starts, saying what to do
        pb.environment().remove("GREETING");
        terminal = waitFor(pb.start(), app, HANG_S);
        assertTrue(terminal.contains("GREETING is not set in this environment: export it first, or write "
                + "-e GREETING=VALUE"), terminal);
        assertFalse(terminal.contains("heartbeat"), terminal);
        run = ukernel(app, "run", "--env-file", tmp.resolve("prod.env").toString());
        terminal = waitFor(run, app, HANG_S);
        assertEquals(1, run.exitValue(), terminal);
        assertTrue(terminal.contains("prod.env: no such file"), terminal);
    }

    @Test
    void sigterm_workerShutdownOutputReachesTheConsole_andItsCleanExitIsTheRunStatus(@TempDir Path tmp)
            throws Exception {
        Path app = tmp.resolve("app");
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", "app", "--dir", app.toString()).exit());
        Files.writeString(app.resolve("src/main.py"), """
                import asyncio, signal, sys

                async def main():
                    stop = asyncio.Event()
                    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
                    print("ready", flush=True)
                    await stop.wait()
                    for i in range(3):
                        print(f"draining {i}", flush=True)
                        print(f"closing {i}", file=sys.stderr, flush=True)
                    return 0
                """);
        Process run = ukernel(app, "run");
        awaitLog(app.resolve("logs/console.log"), "OUT   ready", HANG_S);
        run.destroy(); // SIGTERM: the worker's own shutdown path prints, then ends cleanly
        String terminal = waitFor(run, app, HANG_S);
        assertEquals(0, run.exitValue(), "a worker that handles SIGTERM and exits 0 makes the run exit 0\n" + terminal);
        for (int i = 0; i < 3; i++) {
            assertTrue(terminal.contains("main#1 OUT   draining " + i), terminal);
            assertTrue(terminal.contains("main#1 ERR   closing " + i), terminal);
        }
        assertFalse(terminal.contains("lost the worker's"), terminal);
    }

    @Test
    void killingTheKernel_takesItsWorkerWithIt(@TempDir Path tmp) throws Exception {
        Path app = tmp.resolve("app");
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", "app", "--dir", app.toString()).exit());
        Process run = ukernel(app, "run");
        String text = awaitLog(app.resolve("logs/console.log"), "heartbeat 1", HANG_S);
        Matcher pid = WORKER_PID.matcher(text);
        assertTrue(pid.find(), text);
        ProcessHandle worker = ProcessHandle.of(Long.parseLong(pid.group(1))).orElseThrow();

        run.destroyForcibly(); // SIGKILL: no shutdown hook runs; PR_SET_PDEATHSIG must take the worker down
        run.waitFor(HANG_S, TimeUnit.SECONDS);
        worker.onExit().get(HANG_S, TimeUnit.SECONDS);
        assertFalse(worker.isAlive());
    }

    @Test
    void workerExitStatus_isTheRunStatus_andTheLogSaysWhy(@TempDir Path tmp) throws Exception {
        Path app = tmp.resolve("crash");
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", "crash", "--dir", app.toString()).exit());
        Files.writeString(app.resolve("src/main.py"), """
                import ukernel

                def main():
                    ukernel.cap_acquire(ukernel.Cap.LOG)
                    ukernel.info("about to fail")
                    raise RuntimeError("boom")
                """);
        Process run = ukernel(app, "run");
        String terminal = waitFor(run, app, HANG_S);
        assertEquals(1, run.exitValue(), terminal);
        assertTrue(terminal.contains("main#1 ERR   RuntimeError: boom"), terminal);
        assertTrue(terminal.contains("task main#1 exited with status 1"), terminal);
    }

    @Test
    void capAcquireBeyondPolicy_isDenied_withAPermissionErrorNamingTheCapability(@TempDir Path tmp) throws Exception {
        Path app = tmp.resolve("greedy");
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", "greedy", "--dir", app.toString()).exit());
        Files.writeString(app.resolve("src/main.py"), """
                import ukernel

                def main():
                    ukernel.cap_acquire(ukernel.Cap.LOG)
                    try:
                        ukernel.cap_acquire(ukernel.Cap.NET)
                    except PermissionError as e:
                        print("denied:", e)
                    try:
                        ukernel.time_monotonic_ns()
                    except PermissionError as e:
                        print("denied:", e)
                    print("active:", ukernel.cap_query()[0].name)
                """);
        Process run = ukernel(app, "run");
        String terminal = waitFor(run, app, HANG_S);
        assertEquals(0, run.exitValue(), terminal);
        assertTrue(terminal.contains("caps: denied NET: NET beyond this task's ceiling LOG|TIME"), terminal);
        assertTrue(terminal.contains("main#1 OUT   denied: ") && terminal.contains("NET"), terminal);
        assertTrue(terminal.contains("time_monotonic_ns: denied: needs TIME"), terminal);
        assertTrue(terminal.contains("main#1 OUT   active: LOG"), terminal);
    }

    @Test
    void misspeltManifestKey_failsBeforeBoot_namingFileLineAndKey(@TempDir Path tmp) throws Exception {
        Path app = tmp.resolve("typo");
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", "typo", "--dir", app.toString()).exit());
        String manifest = Files.readString(app.resolve("ukernel.toml")).replaceFirst("(?m)^grant =", "grnat =");
        Files.writeString(app.resolve("ukernel.toml"), manifest);
        int line = manifest.lines().toList().indexOf(manifest.lines().filter(l -> l.startsWith("grnat")).findFirst()
                .orElseThrow()) + 1;
        CliTesting.Run r = CliTesting.run(new UkernelCommand(), "run", app.toString());
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().contains("ukernel.toml:" + line + ": caps.grnat: unknown key (did you mean \"grant\"?)"),
                r.err());
        assertFalse(Files.exists(app.resolve("logs/console.log")), "nothing may boot on a bad manifest");
    }

    @Test
    void jsonLogFormat_writesOneObjectPerLine(@TempDir Path tmp) throws Exception {
        Path app = tmp.resolve("json");
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", "json", "--dir", app.toString()).exit());
        Process run = ukernel(app, "run", "--log-format", "json", "-q", "-e", "HEARTBEATS=1");
        waitFor(run, app, HANG_S);
        assertEquals(0, run.exitValue());
        List<String> lines = Files.readAllLines(app.resolve("logs/console.log"));
        assertTrue(lines.size() > 5, lines.toString());
        for (String l : lines) {
            assertTrue(l.startsWith("{\"t\":") && l.endsWith("}"), l);
        }
        assertTrue(lines.stream().anyMatch(l -> l.contains("\"event\":\"cap.acquire\"")), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.contains("\"msg\":\"heartbeat 1 (uptime")), lines.toString());
    }

    @Test
    void bundledHelloExample_runsToItsLastHeartbeat(@TempDir Path tmp) throws Exception {
        Path app = tmp.resolve("hello");
        Path example = Path.of(System.getProperty("ukernel.repo"), "examples/hello");
        for (String f : List.of("ukernel.toml", "src/main.py", "env/ukernel.env")) {
            Files.createDirectories(app.resolve(f).getParent());
            Files.copy(example.resolve(f), app.resolve(f));
        }
        Process run = ukernel(app, "run", "-e", "HEARTBEATS=2");
        String terminal = waitFor(run, app, HANG_S);
        assertEquals(0, run.exitValue(), terminal);
        assertTrue(terminal.contains("main#1 INFO  hello from main (task 1), capabilities LOG|TIME"), terminal);
        assertTrue(terminal.contains("main#1 INFO  heartbeat 2 (uptime"), terminal);
        assertFalse(terminal.contains("heartbeat 3"), terminal);
        assertTrue(terminal.contains("app hello ended with status 0 (the main task ended)"), terminal);
    }

    @Test
    void onFailureRestartPolicy_restartsWithBackoff_thenGivesUp(@TempDir Path tmp) throws Exception {
        Path app = tmp.resolve("flaky");
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", "flaky", "--dir", app.toString()).exit());
        String manifest = Files.readString(app.resolve("ukernel.toml"));
        Files.writeString(app.resolve("ukernel.toml"), manifest.replaceFirst("(?m)^\\[restart\\][^\\[]*", "")
                + "\n[restart]\npolicy = \"on-failure\"\nmax_retries = 2\nbackoff_ms = 50\n");
        Files.writeString(app.resolve("src/main.py"), """
                import ukernel

                def main():
                    ukernel.cap_acquire(ukernel.Cap.LOG)
                    active, ceiling = ukernel.cap_query()
                    print("starting with", active.name)
                    return 4
                """);
        Process run = ukernel(app, "run");
        String terminal = waitFor(run, app, HANG_S);
        assertEquals(4, run.exitValue(), terminal);
        assertEquals(3, terminal.lines().filter(l -> l.contains("OUT   starting with LOG")).count(), terminal);
        assertTrue(terminal.contains("task main#1 restarts in 50 ms (policy on-failure, restart 1)"), terminal);
        assertTrue(terminal.contains("task main#1 restarts in 100 ms (policy on-failure, restart 2)"), terminal);
        assertTrue(terminal.contains("task main#1 failed 3 times; giving up (restart.max_retries=2)"), terminal);
    }
}
