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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Warm templates through a real host (docs/host.md, "Warm templates"): instances and restarts are forks of one
 * confined template that imported the app under the sandbox; a dead template is replaced, an app changed on disk
 * gets a new one, and an app that cannot be templated starts cold.
 */
class HostTemplateTest {
    /** Bounds a hang only: every wait below is for an event (a line, a state), never a fixed time. */
    private static final int HANG_S = 180;
    /** What the test app logs from its entry function; its top-level code ran in the template. */
    private static final Pattern PROBE = Pattern.compile(
            "probe version=(\\d+) top_seccomp=(-?\\d+) top_pid=(\\d+) pid=(\\d+) urandom=([0-9a-f]+) random=([0-9.e-]+)"
                    + " tmp=(\\S+) tmp_seen=(\\S+) socket=(\\S+)");

    @TempDir
    Path tmp;
    Path home;
    Process host;

    @BeforeAll
    static void adapter() {
        CliTesting.useRepoAdapter();
    }

    @AfterEach
    void stopHost() throws Exception {
        if (host != null && host.isAlive()) {
            host.descendants().forEach(ProcessHandle::destroyForcibly);
            host.destroyForcibly();
            host.waitFor(HANG_S, TimeUnit.SECONDS);
        }
    }

    void startHost() throws Exception {
        home = tmp.resolve("uk");
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"),
                "-D" + AdapterResources.PROPERTY + "=" + System.getProperty(AdapterResources.PROPERTY),
                "io.ukernel.cli.Main", "host"));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("host.out").toFile());
        pb.environment().put(Host.ENV_HOME, home.toString());
        pb.environment().remove(Host.ENV_NO_TEMPLATES);
        host = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_S);
        while (System.nanoTime() < deadline) {
            if (!host.isAlive()) {
                throw new AssertionError("the host ended: " + Files.readString(tmp.resolve("host.out")));
            }
            try {
                hostInfo();
                return;
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        throw new AssertionError("the host never answered");
    }

    Map<String, Object> hostInfo() throws IOException {
        return Json.readObject(HostHttp.call(home.resolve("host.sock"), "GET", "/host", null).bodyText());
    }

    @SuppressWarnings("unchecked")
    List<Map<String, Object>> templates() throws IOException {
        return (List<Map<String, Object>>) hostInfo().get("templates");
    }

    void run(Path app, String name) throws IOException {
        HostHttp.Response r = HostHttp.call(home.resolve("host.sock"), "POST", "/apps",
                Json.write(Map.of("dir", app.toString(), "name", name)));
        assertEquals(201, r.status(), r.bodyText());
    }

    Map<String, Object> app(String name) throws IOException {
        return Json.readObject(HostHttp.call(home.resolve("host.sock"), "GET", "/apps/" + name, null).bodyText());
    }

    Map<String, Object> awaitApp(String name, Predicate<Map<String, Object>> condition, String what)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_S);
        Map<String, Object> last = null;
        while (System.nanoTime() < deadline) {
            last = app(name);
            if (condition.test(last)) {
                return last;
            }
            Thread.sleep(50);
        }
        throw new AssertionError(name + " never " + what + ": " + last);
    }

    static String log(Map<String, Object> app) {
        try {
            return Files.readString(Path.of((String) app.get("log")), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** The probes the app's log holds so far, oldest first. */
    static List<Matcher> probes(Map<String, Object> app) {
        List<Matcher> out = new ArrayList<>();
        Matcher m = PROBE.matcher(log(app));
        while (m.find()) {
            out.add(PROBE.matcher(m.group()));
            out.get(out.size() - 1).matches();
        }
        return out;
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

    String tree() {
        StringBuilder b = new StringBuilder();
        host.descendants().forEach(p -> {
            try {
                b.append(p.pid()).append("<").append(ppid(p.pid())).append(" ");
            } catch (IOException e) {
                b.append(p.pid()).append("<? ");
            }
        });
        return b.toString();
    }

    static long ppid(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        return Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[1]);
    }

    Path writeApp(String name, int version, String extraTopLevel) throws Exception {
        Path app = tmp.resolve(name);
        assertEquals(0, CliTesting.run(new UkernelCommand(), "init", name, "--dir", app.toString()).exit());
        Path toml = app.resolve("ukernel.toml");  // NET: a root kernel then supervises the sockets its workers make
        Files.writeString(toml, Files.readString(toml).replace("grant = [\"LOG\", \"TIME\"]",
                "grant = [\"LOG\", \"TIME\", \"NET\"]"));
        Files.writeString(app.resolve("ukernel.toml"), "\n[restart]\npolicy = \"on-failure\"\nmax_retries = 5\n"
                + "backoff_ms = 10\n", java.nio.file.StandardOpenOption.APPEND);
        writeMain(app, version, extraTopLevel);
        return app;
    }

    static void writeMain(Path app, int version, String extraTopLevel) throws IOException {
        Files.writeString(app.resolve("src/main.py"), """
                import asyncio
                import ctypes
                import os
                import random
                import socket

                import ukernel

                # top-level code: in a template it runs there, under the sandbox (PR_GET_SECCOMP: 2 = filter mode)
                VERSION = %d
                TOP_SECCOMP = ctypes.CDLL(None).prctl(21, 0, 0, 0, 0)
                TOP_PID = os.getpid()
                %s

                async def main():
                    ukernel.cap_acquire(ukernel.Cap.LOG, ukernel.Cap.TIME)
                    tmp = os.environ.get("TMPDIR", "")
                    with open(os.path.join(tmp, "mine"), "w") as f:
                        f.write("x")
                    try:
                        seen = ",".join(sorted(n for n in os.listdir("/tmp") if n.startswith(".instance-")))
                    except OSError:
                        seen = "denied"
                    try:  # a root kernel supervises the sockets a worker makes (the filter's notify variant)
                        socket.socket().close()
                        made = "made"
                    except OSError:
                        made = "refused"
                    ukernel.info("probe version=%%d top_seccomp=%%d top_pid=%%d pid=%%d urandom=%%s random=%%r tmp=%%s "
                                 "tmp_seen=%%s socket=%%s" %% (VERSION, TOP_SECCOMP, TOP_PID, os.getpid(),
                                                              os.urandom(16).hex(), random.random(), tmp, seen or "-",
                                                              made))
                    while True:
                        await asyncio.sleep(3600)
                """.formatted(version, extraTopLevel));
    }

    @Test
    void instancesAndRestartsForkFromAConfinedTemplate_deadTemplateReplaced_appChangeRebuilds() throws Exception {
        Path app = writeApp("warm", 1, "");
        startHost();

        run(app, "a1");
        Map<String, Object> a1 = awaitApp("a1", a -> probes(a).size() == 1 && mainPid(a) > 0, "probed");
        Matcher p1 = probes(a1).get(0);
        assertEquals("2", p1.group(2), "the app's top-level code ran under the seccomp filter:\n" + log(a1));
        assertEquals("1", p1.group(3), "... in the template, PID 1 of its namespace: " + p1.group());
        assertNotEquals("1", p1.group(4), "the worker is the template's child, not the template");
        assertTrue(log(a1).contains("warm start: forked from the app's template"), log(a1));
        List<Map<String, Object>> live = templates();
        assertEquals(1, live.size(), live.toString());
        long forker = ((Number) live.get(0).get("forker")).longValue();
        long w1 = mainPid(a1);
        assertEquals(forker, ppid(w1), "the worker is a fork of the template, not a fresh exec: " + live + " "
                + tree());

        // a second instance: the same template, its own entropy and temporary directory
        run(app, "a2");
        Map<String, Object> a2 = awaitApp("a2", a -> probes(a).size() == 1 && mainPid(a) > 0, "probed");
        Matcher p2 = probes(a2).get(0);
        assertEquals(forker, ppid(mainPid(a2)));
        assertEquals(1L, ((Number) hostInfo().get("templates_made")).longValue());
        assertNotEquals(p1.group(5), p2.group(5), "os.urandom after fork");
        assertNotEquals(p1.group(6), p2.group(6), "random.random() after fork (reseeded)");
        assertNotEquals(p1.group(7), p2.group(7), "each worker has its own TMPDIR");
        assertEquals("denied", p2.group(8), "a worker cannot list the others' temporary directories: " + p2.group());
        if ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0) {
            // as a cold worker of a root kernel: its own notify filter, the listener with its kernel
            assertEquals("made", p2.group(9), log(a2));
        }

        // a crashed worker restarts from the template (restart counted)
        ProcessHandle.of(w1).orElseThrow().destroyForcibly();
        Map<String, Object> again = awaitApp("a1", a -> ((Number) a.get("restarts")).longValue() == 1
                && mainPid(a) > 0 && mainPid(a) != w1 && probes(a).size() == 2, "restarted its killed worker");
        assertEquals(forker, ppid(mainPid(again)), "the restart is a fork of the template");
        assertTrue(log(again).contains("exited with status 137 (SIGKILL)"), log(again));

        // the template killed: its workers end with it (its pid namespace), restart from a new template
        ProcessHandle.of(forker).orElseThrow().destroyForcibly();
        Map<String, Object> replaced = awaitApp("a1", a -> probes(a).size() == 3 && mainPid(a) > 0,
                "restarted after its template died");
        Map<String, Object> replaced2 = awaitApp("a2", a -> probes(a).size() == 2 && mainPid(a) > 0,
                "restarted after its template died");
        // the first of the two restarts found the template dead, said so, and made the new one
        assertTrue((log(replaced) + log(replaced2)).contains("the template of task main ended"), log(replaced));
        live = templates();
        assertEquals(1, live.size(), live.toString());
        long forker2 = ((Number) live.get(0).get("forker")).longValue();
        assertNotEquals(forker, forker2);
        assertEquals(forker2, ppid(mainPid(app("a1"))));

        // the app changed on disk: a new instance rebuilds it and forks from a new template; the old one retires
        writeMain(app, 2, "");
        run(app, "a3");
        Map<String, Object> a3 = awaitApp("a3", a -> probes(a).size() == 1 && mainPid(a) > 0, "probed");
        assertEquals("2", probes(a3).get(0).group(1), "the new instance runs the changed code");
        live = templates();
        assertEquals(1, live.size(), "the old app's template retired: " + live);
        long forker3 = ((Number) live.get(0).get("forker")).longValue();
        assertNotEquals(forker2, forker3);
        assertEquals(forker3, ppid(mainPid(a3)));
        assertFalse(ProcessHandle.of(forker2).map(ProcessHandle::isAlive).orElse(false), "the old template ended");

        HostHttp.call(home.resolve("host.sock"), "POST", "/host/stop", "{}");
        assertTrue(host.waitFor(HANG_S, TimeUnit.SECONDS));
        assertFalse(ProcessHandle.of(forker3).map(ProcessHandle::isAlive).orElse(false), "a template outlived the host");
    }

    @Test
    void taskSpawnForksFromTheSpawnedSpecsTemplate_withItsOwnInheritedHandles() throws Exception {
        Path app = tmp.resolve("pipeline");
        Path repo = Path.of(System.getProperty("ukernel.repo"));
        try (var files = Files.walk(repo.resolve("examples/pipeline"))) {
            for (Path f : files.toList()) {
                String rel = repo.resolve("examples/pipeline").relativize(f).toString();
                if (rel.startsWith("build") || rel.startsWith("logs") || rel.startsWith("dist")) {
                    continue;
                }
                if (Files.isDirectory(f)) {
                    Files.createDirectories(app.resolve(rel));
                } else {
                    Files.copy(f, app.resolve(rel));
                }
            }
        }
        startHost();
        for (String name : List.of("p1", "p2")) {
            run(app, name);
            Map<String, Object> done = awaitApp(name, a -> !Boolean.TRUE.equals(a.get("running")), "ended");
            String log = log(done);
            assertEquals("exited (0)", done.get("status"), log);
            // the consumer (spawned, its work channel passed as an inherited handle) ran and answered
            assertTrue(log.contains("consumer exited with code 0"), log);
            assertEquals(2, log.split("warm start: forked from the app's template", -1).length - 1,
                    "the producer and the spawned consumer are both forks:\n" + log);
        }
        Map<String, Object> info = hostInfo();
        assertEquals(2L, ((Number) info.get("templates_made")).longValue(), "one template per spec: " + info);
        assertEquals(4L, ((Number) info.get("template_forks")).longValue(), info.toString());
    }

    @Test
    void anAppThatCannotBeTemplatedStartsCold() throws Exception {
        // top-level code that starts a thread: forking would copy one thread of two (a held lock stays held)
        Path app = writeApp("threads", 1, "import threading\nthreading.Thread(target=lambda: __import__('time')"
                + ".sleep(3600), daemon=True).start()");
        startHost();
        run(app, "t1");
        Map<String, Object> t1 = awaitApp("t1", a -> probes(a).size() == 1 && mainPid(a) > 0, "probed");
        String log = log(t1);
        assertTrue(log.contains("warm start unavailable for task main: the app's top-level code started 1 threads"),
                log);
        assertFalse(log.contains("warm start: forked"), log);
        assertEquals("2", probes(t1).get(0).group(2), "cold: the top-level code runs confined as always");
        assertTrue(templates().isEmpty(), templates().toString());
    }

    @Test
    void topLevelCodeThatLeavesAProcessStartsCold_theProcessNeverSeesAForkOrder() throws Exception {
        // The attack: the template's filter allows fork, so the app's top-level code leaves a process behind that
        // reads the host's control socket it inherited, taking fork orders (a worker's token and kernel connection)
        // and speaking for the instance. Cold (the fix), the top-level fork is refused and nothing lurks.
        Path app = writeApp("lurker", 1, String.join("\n",
                "import select as _sel, socket as _so",
                "try:",
                "    _pid = os.fork()",
                "except OSError:",
                "    _pid = -1",
                "if _pid == 0:",
                "    _socks = []",
                "    for _fd in range(3, 64):",
                "        try:",
                "            _s = _so.socket(fileno=os.dup(_fd))",
                "        except OSError:",
                "            continue",
                "        if _s.family == _so.AF_UNIX:",
                "            _socks.append(_s)",
                "    while True:",
                "        for _s in _sel.select(_socks, [], [])[0]:",
                "            _msg, _fds, _, _ = _so.recv_fds(_s, 65536, 3)",
                "            if _msg.startswith(b'fork ') and _fds:",
                "                from ukernel import _client",
                "                ukernel._default = _client.Client.from_socket(_so.socket(fileno=_fds[0]),",
                "                                                              _msg.split()[1].decode())",
                "                ukernel.cap_acquire(ukernel.Cap.LOG)",
                "                ukernel.info('stolen: the template lurker speaks for the instance')",
                "                os._exit(0)"));
        startHost();
        run(app, "l1");
        Map<String, Object> l1 = awaitApp("l1", a -> probes(a).size() == 1 && mainPid(a) > 0, "probed");
        String log = log(l1);
        assertTrue(log.contains("warm start unavailable for task main: the app's top-level code left a process "
                + "running"), log);
        assertFalse(log.contains("stolen"), log);
        assertFalse(log.contains("warm start: forked"), log);
        assertTrue(templates().isEmpty(), templates().toString());
    }
}
