package io.ukernel.vmm.firecracker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.vmm.GuestParams;
import io.ukernel.vmm.PortForward;
import io.ukernel.vmm.VmSpec;
import io.ukernel.vmm.VmmException;
import io.ukernel.vmm.spi.ConsoleListener;
import io.ukernel.vmm.spi.RunningVm;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backend end to end with the fake server standing in for the {@code firecracker} binary (a separate
 * process, started the way the real one is): boot, console, clean stop, and the ways it fails.
 */
class FirecrackerBackendTest {
    @TempDir
    Path tmp;

    /** A script that runs the fake as the firecracker binary. */
    private Path fakeBinary(String body) throws Exception {
        Path script = tmp.resolve("firecracker");
        Files.writeString(script, "#!/bin/sh\n" + body + "\n", StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    private Path fakeFirecracker() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return fakeBinary("exec '" + java + "' -XX:TieredStopAtLevel=1 -cp '" + System.getProperty("java.class.path")
                + "' -Dukernel.repo='" + System.getProperty("ukernel.repo", ".") + "' "
                + FakeFirecracker.class.getName() + " \"$@\"");
    }

    static final String SECRET = "fc-s3cret-token";

    private VmSpec spec(Path runDir, List<PortForward> ports) throws Exception {
        Path kernel = Files.write(tmp.resolve("vmlinux"), new byte[] {0x7f, 'E', 'L', 'F', 2});
        Path initrd = Files.write(tmp.resolve("app.img"), new byte[] {1});
        GuestParams params = GuestParams.defaults().withEnv(Map.of("API_TOKEN", SECRET));
        return new VmSpec("app", kernel, Optional.of(initrd), Optional.empty(), 1, 256, ports, params, runDir);
    }

    /** Bounds a hang only: the waits below end on their event. */
    static final int HANG_S = 120;

    static final class Lines implements ConsoleListener {
        final List<String> guest = new CopyOnWriteArrayList<>();
        final List<String> vmm = new CopyOnWriteArrayList<>();

        @Override
        public void guest(String line) {
            guest.add(line);
        }

        @Override
        public void vmm(String line) {
            vmm.add(line);
        }

        boolean await(String needle, long millis) throws InterruptedException {
            long end = System.nanoTime() + millis * 1_000_000L;
            while (System.nanoTime() < end) {
                if (guest.stream().anyMatch(l -> l.contains(needle))) {
                    return true;
                }
                Thread.sleep(20);
            }
            return false;
        }
    }

    @Test
    void boot_configuresStartsStreamsTheConsole_andStopsWithCtrlAltDel() throws Exception {
        Path record = tmp.resolve("calls");
        Path bin = fakeFirecracker();
        Path runDir = Files.createDirectories(tmp.resolve("run"));
        FirecrackerBackend backend = new FirecrackerBackend(Map.of(FirecrackerBackend.ENV_BINARY, bin.toString()),
                Duration.ofSeconds(HANG_S)); // the fake is a JVM: its socket may take a while on a loaded machine
        Lines lines = new Lines();
        RunningVm vm = withEnv(record, () -> backend.boot(spec(runDir, List.of()), lines));
        assertTrue(lines.await("platform microvm", HANG_S * 1000), "console: " + lines.guest);
        // The environment went in the boot arguments through the API socket, in an owner-only directory: not on
        // Firecracker's command line, which every local user can read.
        String cmdline = Files.readString(Path.of("/proc", Long.toString(vm.pid()), "cmdline")).replace('\0', ' ');
        assertTrue(cmdline.contains("--api-sock") && !cmdline.contains(SECRET) && !cmdline.contains("ukernel.env"),
                cmdline);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(runDir)));
        vm.requestStop();
        assertEquals(0, vm.waitFor(HANG_S, TimeUnit.SECONDS), "firecracker exits when the guest reboots");
        assertTrue(lines.guest.contains("ukernel: app exited with status 0"), lines.guest.toString());
        assertEquals(List.of("PUT /logger", "PUT /machine-config", "PUT /boot-source", "PUT /actions", "PUT /actions"),
                Files.readAllLines(record));
        assertFalse(Files.exists(runDir.resolve("firecracker.sock")), "the socket is removed");
    }

    @Test
    void snapshot_pausesThenCreates_restoreLoadsIntoAFreshProcess_andHandsTheGuestItsRecord() throws Exception {
        Path record = tmp.resolve("calls");
        Path bin = fakeFirecracker();
        Path dist = Files.createDirectories(tmp.resolve("dist"));
        FirecrackerBackend backend = new FirecrackerBackend(Map.of(FirecrackerBackend.ENV_BINARY, bin.toString()),
                Duration.ofSeconds(HANG_S));
        Lines lines = new Lines();
        Path state = withEnv(record, () -> backend.snapshot(spec(Files.createDirectories(tmp.resolve("run1")),
                List.of()), dist, lines, HANG_S));
        assertEquals(FirecrackerBackend.stateFile(dist, "app"), state);
        assertTrue(Files.isRegularFile(FirecrackerBackend.memoryFile(dist, "app")));
        assertTrue(Files.isRegularFile(FirecrackerBackend.keyFile(dist, "app")));
        // configured, started, paused, then saved — the order Firecracker requires (the fake refuses any other)
        assertEquals(List.of("PUT /logger", "PUT /machine-config", "PUT /boot-source", "PUT /actions", "PATCH /vm",
                "PUT /snapshot/create"), Files.readAllLines(record));
        assertTrue(lines.guest.contains(io.ukernel.vmm.RestoreRecord.READY_LINE), lines.guest.toString());
        assertFalse(Files.readString(state).contains(SECRET), "the snapshot's boot had no environment");

        VmSpec run = spec(Files.createDirectories(tmp.resolve("run2")), List.of());
        assertEquals(Optional.empty(), backend.snapshotMismatch(run, dist));
        Files.delete(record);
        Lines restored = new Lines();
        RunningVm vm = backend.restore(run, dist, restored);
        assertTrue(restored.await("restored from a snapshot", HANG_S * 1000), "console: " + restored.guest);
        // the guest read the host's record from its console input: clock, 64 random bytes, this run's environment
        assertTrue(restored.guest.stream().anyMatch(l -> l.contains("seed 64 bytes, env keys [API_TOKEN]")),
                restored.guest.toString());
        vm.requestStop();
        assertEquals(0, vm.waitFor(HANG_S, TimeUnit.SECONDS));
        // a fresh process: only the logger before the load, and no boot configuration at all
        assertEquals(List.of("PUT /logger", "PUT /snapshot/load", "PUT /actions"), Files.readAllLines(record));

        VmSpec bigger = new VmSpec("app", run.kernel(), run.initrd(), Optional.empty(), 1, 512, List.of(),
                run.params(), run.runDir());
        assertTrue(backend.snapshotMismatch(bigger, dist).orElseThrow().startsWith("it was made for another machine"));
        Files.write(FirecrackerBackend.memoryFile(dist, "app"), new byte[] {1});
        assertTrue(backend.snapshotMismatch(run, dist).orElseThrow().startsWith("app.fc.mem is 1 bytes"));
    }

    /** The fake reads FAKE_FC_RECORD from its environment: set it for the child through a wrapper script. */
    private <T> T withEnv(Path record, ThrowingSupplier<T> body) throws Exception {
        Path bin = tmp.resolve("firecracker");
        String script = Files.readString(bin).replace("exec ", "FAKE_FC_RECORD='" + record + "' exec ");
        Files.writeString(bin, script);
        return body.get();
    }

    interface ThrowingSupplier<T> {
        T get() throws Exception;
    }

    @Test
    @Timeout(value = 3 * HANG_S, unit = TimeUnit.SECONDS) // boot must give up at its own bound, not wait for the process
    void boot_socketNeverAppears_isAClearError_andTheProcessIsEnded() throws Exception {
        Path pidFile = tmp.resolve("fake.pid");
        Path bin = fakeBinary("echo $$ > '" + pidFile + "'; exec sleep 3600");
        Path runDir = Files.createDirectories(tmp.resolve("run"));
        FirecrackerBackend backend = new FirecrackerBackend(Map.of(FirecrackerBackend.ENV_BINARY, bin.toString()),
                Duration.ofMillis(800));
        VmmException e = assertThrows(VmmException.class, () -> backend.boot(spec(runDir, List.of()), new Lines()));
        assertTrue(e.getMessage().contains("did not appear within 800 ms"), e.getMessage());
        // the process was started, and boot ended it: its pid (kept by exec) is gone
        long pid = Long.parseLong(Files.readString(pidFile).strip());
        var fake = ProcessHandle.of(pid);
        if (fake.isPresent()) {
            fake.get().onExit().get(HANG_S, TimeUnit.SECONDS);
        }
    }

    @Test
    void boot_binaryExitsAtOnce_reportsItsStderr() throws Exception {
        Path bin = fakeBinary("echo 'Error: Could not open /dev/kvm: No such file or directory' >&2; exit 1");
        FirecrackerBackend backend = new FirecrackerBackend(Map.of(FirecrackerBackend.ENV_BINARY, bin.toString()),
                Duration.ofSeconds(5));
        VmmException e = assertThrows(VmmException.class,
                () -> backend.boot(spec(Files.createDirectories(tmp.resolve("run")), List.of()), new Lines()));
        assertTrue(e.getMessage().contains("exited before opening its API socket (status 1)"), e.getMessage());
        assertTrue(e.getMessage().contains("Could not open /dev/kvm"), e.getMessage());
    }

    @Test
    void boot_rejectedDrive_failsWithTheFaultMessage_andCleansUp() throws Exception {
        Path bin = fakeFirecracker();
        String script = Files.readString(bin).replace("exec ", "FAKE_FC_REJECT_DRIVE='Unable to create the block "
                + "device: no space left' exec ");
        Files.writeString(bin, script);
        Path runDir = Files.createDirectories(tmp.resolve("run"));
        Path disk = Files.write(tmp.resolve("rootfs.ext4"), new byte[512]);
        Path kernel = Files.write(tmp.resolve("vmlinux"), new byte[] {0x7f, 'E', 'L', 'F'});
        VmSpec s = new VmSpec("app", kernel, Optional.empty(), Optional.of(disk), 1, 256, List.of(),
                GuestParams.defaults(), runDir);
        FirecrackerBackend backend = new FirecrackerBackend(Map.of(FirecrackerBackend.ENV_BINARY, bin.toString()),
                Duration.ofSeconds(HANG_S));
        FirecrackerApiException e = assertThrows(FirecrackerApiException.class, () -> backend.boot(s, new Lines()));
        assertEquals("Unable to create the block device: no space left", e.faultMessage());
        assertFalse(Files.exists(runDir.resolve("firecracker.sock")));
    }

    @Test
    void removeStale_deletesADeadSocket_butNotALiveOne() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("sock"));
        Path sock = dir.resolve("firecracker.sock");
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(sock));
            assertThrows(VmmException.class, () -> FirecrackerBackend.removeStale(sock));
        }
        assertTrue(Files.exists(sock), "closing a channel leaves its socket file: stale");
        FirecrackerBackend.removeStale(sock);
        assertFalse(Files.exists(sock));
    }

    @Test
    void boot_badInput_isRefusedBeforeStarting() throws Exception {
        Path bin = fakeBinary("exit 0");
        FirecrackerBackend backend = new FirecrackerBackend(Map.of(FirecrackerBackend.ENV_BINARY, bin.toString()),
                Duration.ofSeconds(1));
        assertTrue(assertThrows(VmmException.class, () -> backend.boot(spec(tmp, List.of(new PortForward(8080, 80))),
                new Lines())).getMessage().contains("tap device"));
        Path bz = Files.write(tmp.resolve("bzImage"), new byte[] {'M', 'Z'});
        VmSpec notElf = new VmSpec("app", bz, Optional.of(bz), Optional.empty(), 1, 256, List.of(),
                GuestParams.defaults(), tmp);
        assertTrue(assertThrows(VmmException.class, () -> backend.boot(notElf, new Lines())).getMessage()
                .contains("only an uncompressed ELF vmlinux"));
        FirecrackerBackend missing = new FirecrackerBackend(Map.of("PATH", tmp.resolve("empty").toString()),
                Duration.ofSeconds(1));
        assertTrue(assertThrows(VmmException.class, missing::locate).getMessage()
                .contains("Firecracker is not installed"));
    }

    @Test
    void configFile_holdsTheSameBodies_validAgainstTheSpec() throws Exception {
        Path kernel = Files.write(tmp.resolve("vmlinux"), new byte[] {0x7f, 'E', 'L', 'F'});
        Path initrd = Files.write(tmp.resolve("app.img"), new byte[] {1});
        Path f = FirecrackerConfigFile.write(tmp.resolve("fc.json"), kernel, initrd, 2, 512, GuestParams.defaults());
        @SuppressWarnings("unchecked")
        Map<String, Object> cfg = (Map<String, Object>) io.ukernel.app.json.Json.read(Files.readString(f));
        SwaggerSpec s = SwaggerSpec.load();
        assertEquals(List.of(), s.validate("BootSource", cfg.get("boot-source")));
        assertEquals(List.of(), s.validate("MachineConfiguration", cfg.get("machine-config")));
        String args = (String) ((Map<?, ?>) cfg.get("boot-source")).get("boot_args");
        assertTrue(args.contains("console=ttyS0") && args.contains("reboot=k") && args.contains("ukernel.halt=reboot"),
                args);
    }
}
