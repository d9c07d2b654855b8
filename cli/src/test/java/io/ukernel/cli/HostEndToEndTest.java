package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The resident host as a user drives it: every command a real {@code ukernel} JVM, the host started on demand by
 * the first {@code run -d} in a temp {@code UKERNEL_HOME} (never the user's ~/.ukernel), real confined workers.
 */
class HostEndToEndTest {
    /** Bounds a hang only: every wait below is for an event (a line, a state), never a fixed time. */
    private static final int HANG_S = 180;

    @TempDir
    Path tmp;
    Path home;
    final Set<Long> workers = new HashSet<>();

    @BeforeAll
    static void adapter() {
        CliTesting.useRepoAdapter();
    }

    record Run(int exit, String out) {}

    Run ukernel(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "-D" + AdapterResources.PROPERTY + "=" + System.getProperty(AdapterResources.PROPERTY),
                "io.ukernel.cli.Main"));
        cmd.addAll(List.of(args));
        Path output = Files.createTempFile(tmp, "cli", ".out");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true)
                .redirectOutput(output.toFile());
        pb.environment().put(Host.ENV_HOME, home.toString());
        pb.environment().put(RunRegistry.ENV, home.resolve("run").toString());
        Process p = pb.start();
        if (!p.waitFor(HANG_S, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("ukernel " + String.join(" ", args) + " hung:\n" + Files.readString(output));
        }
        return new Run(p.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
    }

    /** The launcher's fast client (scripts/lib/host_client.py), as the launcher runs it. */
    Run thin(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("python3", "-I", "-S",
                Path.of(System.getProperty("ukernel.repo")).resolve("scripts/lib/host_client.py").toString()));
        cmd.addAll(List.of(args));
        // (not in tmp, where the apps' directories are: `logs one` would name the directory one)
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(home.toFile()).redirectErrorStream(true);
        pb.environment().put(Host.ENV_HOME, home.toString());
        pb.environment().put(RunRegistry.ENV, home.resolve("run").toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(HANG_S, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("host_client " + String.join(" ", args) + " hung:\n" + out);
        }
        return new Run(p.exitValue(), out);
    }

    Path app(String name) throws Exception {
        Path app = tmp.resolve(name);
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", name, "--dir", app.toString()).exit());
        Files.writeString(app.resolve("ukernel.toml"), "\n[restart]\npolicy = \"on-failure\"\nmax_retries = 5\n"
                + "backoff_ms = 10\n", java.nio.file.StandardOpenOption.APPEND);
        return app;
    }

    @SuppressWarnings("unchecked")
    List<Map<String, Object>> ps() throws Exception {
        Run r = ukernel("ps", "-a", "--json");
        assertEquals(0, r.exit(), r.out());
        List<Map<String, Object>> apps = new ArrayList<>();
        for (Object o : (List<?>) Json.read(r.out().lines().filter(l -> l.startsWith("[")).findFirst()
                .orElseThrow(() -> new AssertionError("no JSON from ps --json:\n" + r.out())))) {
            Map<String, Object> a = (Map<String, Object>) o;
            for (Object t : (List<?>) a.getOrDefault("tasks", List.of())) {
                long pid = ((Number) ((Map<?, ?>) t).get("pid")).longValue();
                if (pid > 0) {
                    workers.add(pid);
                }
            }
            apps.add(a);
        }
        return apps;
    }

    Map<String, Object> awaitApp(String name, Predicate<Map<String, Object>> condition, String what)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_S);
        List<Map<String, Object>> last = List.of();
        while (System.nanoTime() < deadline) {
            last = ps();
            for (Map<String, Object> a : last) {
                if (a.get("name").equals(name) && condition.test(a)) {
                    return a;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError(name + " never " + what + ": " + last);
    }

    void awaitGone(String name) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_S);
        while (System.nanoTime() < deadline) {
            if (ps().stream().noneMatch(a -> a.get("name").equals(name))) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError(name + " is still listed: " + ps());
    }

    static long mainPid(Map<String, Object> app) {
        for (Object t : (List<?>) app.get("tasks")) {
            Map<?, ?> task = (Map<?, ?>) t;
            if (task.get("name").equals("main") && task.get("state").equals("running")) {
                return ((Number) task.get("pid")).longValue();
            }
        }
        return -1;
    }

    static String log(Map<String, Object> app) throws IOException {
        Path p = Path.of((String) app.get("log"));
        return Files.exists(p) ? Files.readString(p) : "";
    }

    @AfterEach
    void noHostLeftBehind() throws Exception {
        if (home != null && Files.exists(home.resolve("host.sock"))) {
            ukernel("host", "stop");
        }
    }

    @Test
    void runDetached_twoApps_ps_logs_stop_crashRestart_hostStop(@TempDir Path h) throws Exception {
        home = h.resolve("uk");
        Path one = app("one");
        Path two = app("two");

        Run first = ukernel("run", "-d", one.toString(), "-e", "GREETING=detached");
        assertEquals(0, first.exit(), first.out());
        assertTrue(first.out().contains("started the host"), first.out());
        assertTrue(first.out().strip().endsWith("one"), "run -d prints the run's name:\n" + first.out());
        Run second = ukernel("run", "-d", "--name", "second", two.toString());
        assertEquals(0, second.exit(), second.out());
        assertEquals("second", second.out().strip(), "the host was already running: only the name\n" + second.out());

        // the launcher's fast path: the Python client sends the options as given, the host resolves them (a bare
        // -e KEY takes this shell's value); an option it does not know is left to the JVM CLI (exit 3)
        Path repo = Path.of(System.getProperty("ukernel.repo"));
        ProcessBuilder thin = new ProcessBuilder("python3", "-I", "-S",
                repo.resolve("scripts/lib/host_client.py").toString(), "run", "-d", "--name", "thin", "--rm",
                "-e", "GREETING", "-e", "HEARTBEATS=1", two.toString()).redirectErrorStream(true);
        thin.environment().put(Host.ENV_HOME, home.toString());
        thin.environment().put("GREETING", "from-the-thin-client");
        Process tp = thin.start();
        String thinOut = new String(tp.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(tp.waitFor(HANG_S, TimeUnit.SECONDS));
        assertEquals(0, tp.exitValue(), thinOut);
        assertEquals("thin", thinOut.strip());
        Path thinLog = awaitInstanceLogContaining(two, "GREETING=from-the-thin-client");
        PipelineEndToEndTest.awaitLog(thinLog, "ended with status 0", HANG_S);
        thin.command().set(thin.command().indexOf("--rm"), "--log-format=json");
        Process fallback = thin.start();
        fallback.getInputStream().readAllBytes();
        assertTrue(fallback.waitFor(HANG_S, TimeUnit.SECONDS));
        assertEquals(3, fallback.exitValue(), "an option the fast path does not know goes to the JVM CLI");

        // owner-only: the directory 0700, the socket 0600
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(home)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(
                home.resolve("host.sock"))));

        // a name is taken until rm
        Run clash = ukernel("run", "-d", "--name", "second", two.toString());
        assertEquals(1, clash.exit(), clash.out());
        assertTrue(clash.out().contains("the name second is taken"), clash.out());

        Map<String, Object> a1 = awaitApp("one", a -> {
            try {
                return log(a).contains("heartbeat 1 ") && mainPid(a) > 0;
            } catch (IOException e) {
                return false;
            }
        }, "logged a heartbeat");
        awaitApp("second", a -> mainPid(a) > 0, "ran its main task");
        assertTrue(log(a1).contains("GREETING=detached"), log(a1));

        Run table = ukernel("ps");
        assertTrue(table.out().lines().anyMatch(l -> l.matches("one +running +\\S+ +1 +0 .*host")), table.out());
        assertTrue(table.out().lines().anyMatch(l -> l.matches("second +running .*host")), table.out());
        assertTrue(table.out().contains("NAME") && table.out().contains("RESTARTS") && table.out().contains("MEM"),
                table.out());

        // the launcher's fast client answers ps/logs/stop/restart/rm without a JVM, with the JVM CLI's output
        Run thinTable = thin("ps");
        assertEquals(0, thinTable.exit(), thinTable.out());
        assertEquals(table.out().lines().findFirst(), thinTable.out().lines().findFirst(), "the same header");
        assertTrue(thinTable.out().lines().anyMatch(l -> l.matches("one +running +\\S+ +1 +0 .*host")),
                thinTable.out());
        assertEquals(table.out().lines().count(), thinTable.out().lines().count(), thinTable.out());
        assertEquals(List.of("one", "second"), thin("ps", "-q").out().lines().sorted().toList());
        List<?> thinJson = (List<?>) Json.read(thin("ps", "--json").out());
        assertEquals(2, thinJson.size(), thinJson.toString());

        Run logs = ukernel("logs", "one", "-n", "3");
        assertEquals(0, logs.exit(), logs.out());
        assertEquals(3, logs.out().lines().count(), logs.out());
        Run thinLogs = thin("logs", "one", "-n", "3");
        assertEquals(0, thinLogs.exit(), thinLogs.out());
        assertEquals(3, thinLogs.out().lines().count(), thinLogs.out());
        assertTrue(thinLogs.out().contains("heartbeat"), thinLogs.out());
        // what it does not serve is the JVM CLI's (exit 3): -t, a directory, a name the host does not run
        assertEquals(3, thin("logs", "one", "-t").exit());
        assertEquals(3, thin("logs", one.toString()).exit());
        assertEquals(3, thin("stop", "nosuch").exit());
        assertEquals(3, thin("ps", "--bogus").exit());
        Run stamped = ukernel("logs", "one", "-t", "-n", "1");
        assertTrue(stamped.out().matches("(?s)\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d.*\\] main#1 .*"), stamped.out());

        // kill -9 of a worker: the app's kernel restarts it (on-failure) and the restart is counted
        long crashed = mainPid(a1);
        ProcessHandle.of(crashed).orElseThrow().destroyForcibly();
        Map<String, Object> restarted = awaitApp("one", a -> ((Number) a.get("restarts")).longValue() == 1
                && mainPid(a) > 0 && mainPid(a) != crashed, "restarted its killed worker");
        assertEquals("running", restarted.get("status"));
        assertTrue(log(restarted).contains("exited with status 137 (SIGKILL)"), log(restarted));

        Run stop = thin("stop", "second");
        assertEquals(0, stop.exit(), stop.out());
        assertEquals("Stopping second (host)...\nStopped second\n", stop.out());
        Map<String, Object> stopped = awaitApp("second", a -> !Boolean.TRUE.equals(a.get("running")), "ended");
        assertTrue(((String) stopped.get("status")).startsWith("exited ("), stopped.toString());
        Run running = ukernel("ps");
        assertFalse(running.out().contains("second"), "ps without -a lists running apps only:\n" + running.out());
        assertTrue(ukernel("ps", "-a").out().contains("second"));
        Run rm = thin("rm", "second");
        assertEquals(0, rm.exit(), rm.out());
        assertEquals("second", rm.out().strip());
        assertTrue(ps().stream().noneMatch(a -> a.get("name").equals("second")));

        // --rm: the thin client's run is gone from the list once it ended
        awaitGone("thin");

        // restart: a new instance (its own log), counted with the crash restart; rm refuses a running app
        Object instanceBefore = ps().stream().filter(a -> a.get("name").equals("one")).findFirst().orElseThrow()
                .get("instance");
        Run restart = ukernel("restart", "one");
        assertEquals(0, restart.exit(), restart.out());
        Map<String, Object> again = awaitApp("one", a -> mainPid(a) > 0
                && !a.get("instance").equals(instanceBefore), "restarted as a new instance");
        assertEquals(2L, ((Number) again.get("restarts")).longValue(), "1 crash + 1 ukernel restart: " + again);
        assertEquals(Path.of((String) again.get("log")).toRealPath(), one.resolve("logs/console.log").toRealPath());
        Run rmRunning = ukernel("rm", "one");
        assertEquals(1, rmRunning.exit(), rmRunning.out());
        assertTrue(rmRunning.out().contains("one is running"), rmRunning.out());
        Run thinRmRunning = thin("rm", "one");
        assertEquals(1, thinRmRunning.exit(), thinRmRunning.out());
        assertTrue(thinRmRunning.out().contains("one is running"), thinRmRunning.out());
        Object instanceThen = again.get("instance");
        Run thinRestart = thin("restart", "one");
        assertEquals(0, thinRestart.exit(), thinRestart.out());
        assertEquals("one", thinRestart.out().strip());
        awaitApp("one", a -> mainPid(a) > 0 && !a.get("instance").equals(instanceThen), "restarted by the thin client");

        long hostPid = ((Number) Json.readObject(HostHttp.call(home.resolve("host.sock"), "GET", "/host", null)
                .bodyText()).get("pid")).longValue();
        ps();
        assertTrue(workers.size() >= 3, "workers seen: " + workers);
        Run hostStop = ukernel("host", "stop");
        assertEquals(0, hostStop.exit(), hostStop.out());
        // ended: gone, or a zombie its new parent (init, or a subreaper) has not reaped yet
        assertFalse(HostCommand.running(hostPid), "the host still runs");
        for (long w : workers) {
            assertFalse(HostCommand.running(w), "worker " + w + " left");
        }
        assertFalse(Files.exists(home.resolve("host.sock")), "the socket is removed");
        String oneLog = Files.readString(one.resolve("logs/console.log"));
        assertTrue(oneLog.contains("stopping: the host is stopping"), oneLog);
    }

    @Test
    void foregroundRun_ctrlCExits130_andOverlappingRunsKeepTheirOwnLogs(@TempDir Path h) throws Exception {
        home = h.resolve("uk");
        Path app = app("fg");
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "-D" + AdapterResources.PROPERTY + "=" + System.getProperty(AdapterResources.PROPERTY),
                "io.ukernel.cli.Main", "run", app.toString(), "-q"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("fg.out").toFile());
        pb.environment().put(Host.ENV_HOME, home.toString());
        pb.environment().put(RunRegistry.ENV, home.resolve("run").toString());
        Process first = pb.start();
        Path firstLog = awaitInstanceLog(app, 1);
        PipelineEndToEndTest.awaitLog(firstLog, "heartbeat 1 ", HANG_S);
        pb.redirectOutput(tmp.resolve("fg2.out").toFile());
        Process second = pb.start();
        Path secondLog = awaitInstanceLog(app, 2);
        PipelineEndToEndTest.awaitLog(secondLog, "heartbeat 1 ", HANG_S);
        assertEquals(secondLog.toRealPath(), app.resolve("logs/console.log").toRealPath(),
                "logs/console.log is the latest run's");

        // the foreground runs are listed (and by name for logs) with no host running
        Run ps = ukernel("ps");
        assertEquals(2, ps.out().lines().filter(l -> l.startsWith("fg ") && l.contains("fg pid")).count(), ps.out());
        assertFalse(Files.exists(home.resolve("host.sock")), "ps must not start a host");

        new ProcessBuilder("kill", "-INT", Long.toString(first.pid())).start().waitFor();
        assertTrue(first.waitFor(HANG_S, TimeUnit.SECONDS));
        assertEquals(130, first.exitValue(), "Ctrl-C of a foreground run exits 130\n" + Files.readString(firstLog));
        assertTrue(Files.readString(firstLog).contains("stopping: SIGINT received"), Files.readString(firstLog));
        assertTrue(second.isAlive(), "the other run goes on");
        PipelineEndToEndTest.awaitLog(secondLog, "heartbeat 2 ", HANG_S);
        Run stopAll = ukernel("stop", "--all");
        assertEquals(0, stopAll.exit(), stopAll.out());
        assertTrue(stopAll.out().contains("Stopped fg"), stopAll.out());
        assertTrue(second.waitFor(HANG_S, TimeUnit.SECONDS));
        assertEquals(143, second.exitValue(), "stop sends SIGTERM, which keeps the main task's status");
        assertTrue(Files.readString(firstLog).contains("ended with status"), "the first log was not clobbered");
    }

    /** Waits until one of the app's instance logs contains {@code needle}; returns it. */
    static Path awaitInstanceLogContaining(Path app, String needle) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_S);
        while (System.nanoTime() < deadline) {
            try (var s = Files.list(app.resolve("logs"))) {
                for (Path d : s.filter(p -> Files.exists(p.resolve("instance.json"))).toList()) {
                    Path log = d.resolve("console.log");
                    if (Files.exists(log) && Files.readString(log).contains(needle)) {
                        return log;
                    }
                }
            } catch (java.nio.file.NoSuchFileException notYet) {
                // no logs/ yet
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no instance log of " + app + " contains " + needle);
    }

    /** Waits until the app has {@code n} instance directories; returns the newest one's log. */
    static Path awaitInstanceLog(Path app, int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_S);
        while (System.nanoTime() < deadline) {
            Path logs = app.resolve("logs");
            if (Files.isDirectory(logs)) {
                try (var s = Files.list(logs)) {
                    List<Path> dirs = s.filter(p -> Files.exists(p.resolve("instance.json"))).sorted().toList();
                    if (dirs.size() >= n) {
                        return dirs.getLast().resolve("console.log");
                    }
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no " + n + " instance logs under " + app.resolve("logs"));
    }

    @Test
    void killingTheHost_takesEveryWorkerWithIt(@TempDir Path h) throws Exception {
        home = h.resolve("uk");
        Path app = app("victim");
        Run first = ukernel("run", "-d", app.toString());
        assertEquals(0, first.exit(), first.out());
        Run second = ukernel("run", "-d", app.toString());
        assertEquals("victim-2", second.out().strip(), "the next free name");
        awaitApp("victim", a -> mainPid(a) > 0, "ran");
        awaitApp("victim-2", a -> mainPid(a) > 0, "ran");
        List<Long> pids = ps().stream().map(HostEndToEndTest::mainPid).toList();
        long hostPid = ((Number) Json.readObject(HostHttp.call(home.resolve("host.sock"), "GET", "/host", null)
                .bodyText()).get("pid")).longValue();
        ProcessHandle.of(hostPid).orElseThrow().destroyForcibly();     // SIGKILL: no shutdown hook, no stopAll
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_S);
        for (long pid : pids) {
            while (HostCommand.running(pid) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertFalse(HostCommand.running(pid), "worker " + pid + " outlived the killed host");
        }
        // the next run -d finds the socket dead and starts a new host
        Run again = ukernel("run", "-d", app.toString());
        assertEquals(0, again.exit(), again.out());
        assertTrue(again.out().contains("started the host"), again.out());
    }

    @Test
    void completionScript_and_detachOnlyOptions() throws Exception {
        home = tmp.resolve("uk-none");
        CliTesting.Run completion = CliTesting.run(new UkernelCommand(), "completion");
        assertEquals(0, completion.exit(), completion.err());
        assertTrue(completion.out().contains("complete -F"), "a bash completion function");
        for (String sub : List.of("run", "ps", "logs", "stop", "restart", "rm", "host")) {
            assertTrue(completion.out().contains(sub), sub);
        }
        assertTrue(completion.out().contains("--detach"), "options are completed too");
        CliTesting.Run named = CliTesting.run(new UkernelCommand(), "run", tmp.toString(), "--name", "x");
        assertEquals(1, named.exit());
        assertTrue(named.err().contains("add -d"), named.err());
    }
}
