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
    /** Bounds a hang only: every wait below ends on its event (a line, an exit). */
    static final long HANG_S = 60;

    final List<String> lines = new CopyOnWriteArrayList<>();
    final CompletableFuture<Integer> exit = new CompletableFuture<>();
    final WorkerListener listener = new WorkerListener() {
        @Override
        public void output(String line, boolean stderr) {
            synchronized (lines) {
                lines.add((stderr ? "err: " : "out: ") + line);
                lines.notifyAll();
            }
        }

        @Override
        public void exited(int status) {
            exit.complete(status);
        }
    };

    /** Waits until the worker printed {@code line}. */
    void awaitLine(String line) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_S);
        synchronized (lines) {
            while (!lines.contains(line)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no \"" + line + "\" from the worker: " + lines);
                }
                TimeUnit.NANOSECONDS.timedWait(lines, left);
            }
        }
    }

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
        assertEquals(0, exit.get(HANG_S, TimeUnit.SECONDS));
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
    void loaderVariables_areNotPassed_andTheListenerIsTold(@TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, """
                import os
                for k in sorted(os.environ):
                    print(k + "=" + os.environ[k])
                """);
        new ProcessPlatform(python(), "3").start(spec(bundle, Map.of("LD_PRELOAD", "/x/evil.so",
                "PYTHONPATH", "/x", "GCONV_PATH", "/x", "GLIBC_TUNABLES", "x", "KEEP", "me")), listener);
        assertEquals(0, exit.get(HANG_S, TimeUnit.SECONDS));
        assertTrue(lines.contains("out: KEEP=me"), lines.toString());
        assertFalse(lines.stream().anyMatch(l -> l.startsWith("out: LD_") || l.startsWith("out: PYTHON")
                || l.startsWith("out: GCONV") || l.startsWith("out: GLIBC")), lines.toString());
        assertTrue(lines.contains("err: ukernel: not passed to the worker: GCONV_PATH, GLIBC_TUNABLES, LD_PRELOAD, "
                + "PYTHONPATH (PYTHON*, LD_* and other loader variables could run code before the sandbox is in "
                + "place)"), lines.toString());
        assertTrue(lines.contains("out: UKERNEL_SANDBOX=strict"), lines.toString());
    }

    @Test
    void sandboxOff_tellsTheLoader_andTheBannerSaysUnconfined(@TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, "import os\nprint('mode', os.environ['UKERNEL_SANDBOX'])\n");
        ProcessPlatform p = new ProcessPlatform(python(), "3", ProcessPlatform.Sandbox.off("--insecure-no-sandbox"));
        p.start(spec(bundle, Map.of()), listener);
        assertEquals(0, exit.get(HANG_S, TimeUnit.SECONDS));
        assertTrue(lines.contains("out: mode off"), lines.toString());
        assertFalse(p.confined());
        assertTrue(p.confinement().startsWith("UNCONFINED: the sandbox is off (--insecure-no-sandbox)"),
                p.confinement());
    }

    @Test
    void strictBanner_statesTheHostsLandlockAbi_orWhyWorkersWillNotStart() {
        ProcessPlatform p = new ProcessPlatform(Path.of("/nonexistent/python3"), "3");
        HostSandbox host = p.host();
        if (host.canConfine()) {
            assertTrue(p.confined());
            assertTrue(p.confinement().startsWith("strict: namespaces "), p.confinement());
            assertTrue(p.confinement().contains("no_new_privs, Landlock ABI " + host.landlockAbi() + " ("),
                    p.confinement());
            assertTrue(p.confinement().contains(host.root() ? "workers never root" : "kernel's uid (not root)"),
                    p.confinement());
            assertTrue(p.confinement().contains("seccomp allow-list"), p.confinement());
        } else {
            assertFalse(p.confined());
            assertTrue(p.confinement().contains("workers will not be started"), p.confinement());
        }
    }

    @Test
    void hostWithoutLandlock_inStrictMode_refusesToStartTheWorker_withAClearError(@TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, "print('never')");
        HostSandbox none = new HostSandbox(0, true, null);
        ProcessPlatform strict = new ProcessPlatform(python(), "3", ProcessPlatform.Sandbox.strictDefault(), none);
        IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
                () -> strict.start(spec(bundle, Map.of()), listener));
        assertTrue(e.getMessage().startsWith("this host cannot confine the worker: no Landlock"), e.getMessage());
        assertTrue(e.getMessage().contains("--insecure-no-sandbox"), e.getMessage());
        assertTrue(strict.confinement().contains("workers will not be started"), strict.confinement());
        ProcessPlatform off = new ProcessPlatform(python(), "3", ProcessPlatform.Sandbox.off("test"), none);
        off.start(spec(bundle, Map.of()), listener);
        assertEquals(0, exit.get(HANG_S, TimeUnit.SECONDS));
        assertTrue(lines.contains("out: never"), lines.toString());
        assertFalse(none.canConfine());
        assertEquals("no Landlock (needs Linux >= 5.13 with landlock among the LSMs)", none.missing());
        HostSandbox noSeccomp = new HostSandbox(7, false, "not Linux");
        assertEquals("no seccomp filter (not Linux)", noSeccomp.missing());
    }

    @Test
    void strictWorker_getsTheNamespacesSettingAndItsOwnWorkerId_whichTheAppCannotOverride(@TempDir Path dir)
            throws Exception {
        Path bundle = bundleWithBoot(dir, """
                import os
                print("ns", os.environ["UKERNEL_NAMESPACES"], "id", os.environ["UKERNEL_WORKER_ID"])
                """);
        HostSandbox host = new HostSandbox(7, true, null, true, true, "as root");
        ProcessPlatform p = new ProcessPlatform(python(), "3", new ProcessPlatform.Sandbox(true, null, "on"), host);
        p.start(spec(bundle, Map.of("UKERNEL_WORKER_ID", "0", "UKERNEL_NAMESPACES", "off")), listener);
        assertEquals(0, exit.get(20, TimeUnit.SECONDS));
        long id = ProcessPlatform.workerId(ProcessHandle.current().pid(), 0);
        assertTrue(lines.contains("out: ns on id " + id), lines.toString());
        assertTrue(p.confinement().startsWith("strict: namespaces mount+pid+ipc+net+uts (as root;"),
                p.confinement());
    }

    @Test
    void worker_getsItsPreopensTmpSizeAndAScratchDirectory_removedAtItsEnd_whichTheAppCannotOverride(
            @TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, """
                import os
                print("pre", repr(os.environ["UKERNEL_PREOPENS"]), "tmp", os.environ["UKERNEL_TMP_BYTES"])
                scratch = os.environ["UKERNEL_SCRATCH"]
                print("scratch", scratch, sorted(os.listdir(scratch)), oct(os.stat(scratch).st_mode & 0o777))
                open(os.path.join(scratch, "tmp", "left"), "w").close()
                """);
        ProcessPlatform p = new ProcessPlatform(python(), "3", ProcessPlatform.Sandbox.off("test"));
        WorkerSpec spec = new WorkerSpec(1, "main", "src/main.py", bundle, Path.of("/tmp/abi.sock"), "ab12",
                Map.of("UKERNEL_PREOPENS", "rw x /", "UKERNEL_TMP_BYTES", "1"),
                java.util.List.of(new WorkerSpec.Dir("data", dir.resolve("data"), true),
                        new WorkerSpec.Dir("conf", dir.resolve("etc/conf"), false)), 5 << 20);
        p.start(spec, listener);
        assertEquals(0, exit.get(20, TimeUnit.SECONDS));
        assertTrue(lines.contains("out: pre 'rw data " + dir.resolve("data") + "\\nro conf " + dir.resolve("etc/conf")
                + "\\n' tmp " + (5 << 20)), lines.toString());
        String line = lines.stream().filter(l -> l.startsWith("out: scratch ")).findFirst().orElseThrow();
        assertTrue(line.endsWith(" ['home', 'tmp'] 0o700"), line);
        Path scratch = Path.of(line.split(" ")[2]);
        assertFalse(Files.exists(scratch), "the scratch directory is removed when the worker ends: " + scratch);
    }

    @Test
    void workerIds_areInTheDocumentedRange_distinctPerKernelAndPerWorker() {
        long maxPid = (1 << 22) - 1;
        assertEquals(ProcessPlatform.WORKER_ID_BASE, ProcessPlatform.workerId(0, 0));
        assertTrue(ProcessPlatform.workerId(maxPid, 511) <= 4_294_967_294L);
        assertTrue(ProcessPlatform.workerId(1, 0) > 1_879_048_191L, "above systemd's container range");
        assertFalse(ProcessPlatform.workerId(100, 1) == ProcessPlatform.workerId(100, 2));
        assertFalse(ProcessPlatform.workerId(100, 0) == ProcessPlatform.workerId(101, 0));
    }

    @Test
    void namespacesOn_onAHostWithout_refusesToStartWorkers_sayingWhatToChange(@TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, "print('never')");
        HostSandbox host = new HostSandbox(7, true, null, false, false, "user.max_user_namespaces = 0");
        ProcessPlatform p = new ProcessPlatform(python(), "3", new ProcessPlatform.Sandbox(true, null, "on"), host);
        IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
                () -> p.start(spec(bundle, Map.of()), listener));
        assertTrue(e.getMessage().contains("user.max_user_namespaces = 0"), e.getMessage());
        assertTrue(e.getMessage().contains("namespaces = \"auto\""), e.getMessage());
        assertTrue(p.confinement().contains("workers will not be started"), p.confinement());
        ProcessPlatform auto = new ProcessPlatform(python(), "3", ProcessPlatform.Sandbox.strictDefault(), host);
        assertTrue(auto.confinement().startsWith("strict: namespaces none (user.max_user_namespaces = 0)"),
                auto.confinement());
    }

    @Test
    void userNamespaceSysctls_sayWhyTheyAreRefused(@TempDir Path sys) throws Exception {
        assertEquals(null, HostSandbox.userNamespacesRefused(sys), "no switches: allowed");
        Files.createDirectories(sys.resolve("kernel"));
        Files.createDirectories(sys.resolve("user"));
        Files.writeString(sys.resolve("kernel/unprivileged_userns_clone"), "0\n");
        assertTrue(HostSandbox.userNamespacesRefused(sys).startsWith("kernel.unprivileged_userns_clone = 0"));
        Files.writeString(sys.resolve("kernel/unprivileged_userns_clone"), "1\n");
        Files.writeString(sys.resolve("kernel/apparmor_restrict_unprivileged_userns"), "1\n");
        assertTrue(HostSandbox.userNamespacesRefused(sys).contains("AppArmor"));
        Files.writeString(sys.resolve("user/max_user_namespaces"), "0\n");
        assertEquals("user.max_user_namespaces = 0", HostSandbox.userNamespacesRefused(sys));
    }

    @Test
    void effectiveUid_isTheSecondUidField(@TempDir Path dir) throws Exception {
        Path status = dir.resolve("status");
        Files.writeString(status, "Name:\tjava\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n");
        assertEquals(0, HostSandbox.effectiveUid(status));
        assertEquals(-1, HostSandbox.effectiveUid(dir.resolve("missing")));
    }

    @Test
    void probe_findsLandlockAndSeccomp_onLinuxX86() {
        HostSandbox h = HostSandbox.probe();
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("os.name").equals("Linux")
                && System.getProperty("os.arch").equals("amd64"), "Linux x86_64 only");
        assertTrue(h.seccomp(), h.toString());
        assertTrue(h.landlockAbi() >= 0, h.toString());
    }

    @Test
    void stdoutAndStderr_arriveAsLines_beforeTheExit(@TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, """
                import sys
                print("one"); print("two", file=sys.stderr); print("three")
                sys.exit(3)
                """);
        new ProcessPlatform(python(), "3").start(spec(bundle, Map.of()), listener);
        assertEquals(3, exit.get(HANG_S, TimeUnit.SECONDS));
        assertTrue(lines.containsAll(List.of("out: one", "err: two", "out: three")), lines.toString());
    }

    @Test
    void terminate_sendsSigterm_andTheStatusSaysSo(@TempDir Path dir) throws Exception {
        Path bundle = bundleWithBoot(dir, """
                import time
                print("ready", flush=True)
                time.sleep(3600)
                """);
        Worker w = new ProcessPlatform(python(), "3").start(spec(bundle, Map.of()), listener);
        awaitLine("out: ready");
        assertTrue(w.alive());
        w.terminate();
        assertEquals(128 + 15, exit.get(HANG_S, TimeUnit.SECONDS));
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
