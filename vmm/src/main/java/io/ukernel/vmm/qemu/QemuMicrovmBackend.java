package io.ukernel.vmm.qemu;

import io.ukernel.vmm.Binaries;
import io.ukernel.vmm.ControlledVm;
import io.ukernel.vmm.BootArgs;
import io.ukernel.vmm.GuestParams;
import io.ukernel.vmm.PortForward;
import io.ukernel.vmm.VmSpec;
import io.ukernel.vmm.VmmException;
import io.ukernel.vmm.VmmProcess;
import io.ukernel.vmm.spi.ConsoleListener;
import io.ukernel.vmm.spi.RunningVm;
import io.ukernel.vmm.spi.VmmBackend;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Boots images with {@code qemu-system-x86_64 -M microvm}: no PCI, no firmware tables beyond ACPI, virtio over
 * MMIO, the serial console on stdio. KVM when it works here, TCG otherwise ({@link Accelerator}). A keyboard
 * controller ({@code i8042}) carries Ctrl-Alt-Del, sent over QMP, as the clean stop request — the same signal
 * Firecracker's {@code SendCtrlAltDel} gives. {@code -no-reboot}: when the guest powers off, reboots or panics,
 * QEMU exits. Published ports use user-mode networking ({@code hostfwd} on 127.0.0.1) and a
 * {@code virtio-net-device}.
 */
public final class QemuMicrovmBackend implements VmmBackend, io.ukernel.vmm.spi.Snapshots {
    /** Environment variable naming the QEMU binary. */
    public static final String ENV = "UKERNEL_QEMU";
    static final String BINARY = "qemu-system-x86_64";

    private final Map<String, String> env;
    private final Path cacheDir;

    /**
     * @param env      the environment ({@value #ENV}, {@code PATH}, {@code UKERNEL_ACCEL})
     * @param cacheDir where the KVM probe's answer is kept
     */
    public QemuMicrovmBackend(Map<String, String> env, Path cacheDir) {
        this.env = Map.copyOf(env);
        this.cacheDir = cacheDir;
    }

    @Override
    public String name() {
        return "qemu";
    }

    /**
     * The QEMU binary: {@code $UKERNEL_QEMU}, else {@code qemu-system-x86_64} on {@code PATH}.
     *
     * @throws QemuException saying how to install it
     */
    public Path locate() throws QemuException {
        Optional<Path> found;
        try {
            found = Binaries.find(env, ENV, BINARY);
        } catch (VmmException e) {
            throw new QemuException(e.getMessage());
        }
        if (found.isPresent()) {
            return found.get();
        }
        throw new QemuException("QEMU is not installed (no " + BINARY + " on PATH): install it (Debian/Ubuntu: "
                + "`apt-get install qemu-system-x86`, Fedora: `dnf install qemu-system-x86`) or set " + ENV
                + " to the binary");
    }

    @Override
    public RunningVm boot(VmSpec spec, ConsoleListener console) throws QemuException {
        return start(spec, console, Mode.COLD, null).vm();
    }

    /** A cold boot, the boot a snapshot is made of (stops at the guest's snapshot point), or a restore. */
    enum Mode { COLD, SNAPSHOT, RESTORE }

    private record Started(QemuVm vm, Path qemu, Accelerator accel) {}

    private Started start(VmSpec spec, ConsoleListener console, Mode mode, Path incoming) throws QemuException {
        Path qemu = locate();
        if (!Files.isRegularFile(spec.kernel())) {
            throw new QemuException("the guest kernel " + spec.kernel() + " does not exist (repack with `ukernel "
                    + "pack`, or pass --kernel / set UKERNEL_KERNEL)");
        }
        if (spec.initrd().isEmpty()) {
            throw new QemuException("QEMU boots ukernel images as an initrd; a root drive alone is not supported");
        }
        if (!Files.isRegularFile(spec.initrd().get())) {
            throw new QemuException("the image " + spec.initrd().get() + " does not exist (run `ukernel pack`)");
        }
        Accelerator accel = Accelerator.detect(qemu, spec.kernel(), env, cacheDir);
        Path qmp = spec.runDir().resolve("qmp.sock");
        Optional<Path> envFile;
        try {
            Files.createDirectories(spec.runDir());
            Files.setPosixFilePermissions(spec.runDir(), PosixFilePermissions.fromString("rwx------"));
            Files.deleteIfExists(qmp);
            envFile = mode == Mode.COLD ? writeEnvFile(spec) : Optional.empty();
        } catch (IOException e) {
            throw new QemuException("cannot prepare " + spec.runDir() + ": " + e.getMessage(), e);
        }
        List<String> cmd = mode == Mode.COLD ? command(qemu, spec, accel, qmp, envFile)
                : snapshotCommand(qemu, spec, accel, qmp, mode == Mode.RESTORE);
        Deque<String> lastErrors = new ArrayDeque<>();
        ConsoleListener tee = new ConsoleListener() {
            private boolean booted;

            @Override
            public void guest(String line) {
                if (!booted) {
                    // QEMU read the fw_cfg file before the guest ran a single instruction: it is no longer needed.
                    booted = true;
                    envFile.ifPresent(QemuMicrovmBackend::deleteQuietly);
                }
                console.guest(line);
            }

            @Override
            public void vmm(String line) {
                synchronized (lastErrors) {
                    lastErrors.addLast(line);
                    if (lastErrors.size() > 5) {
                        lastErrors.removeFirst();
                    }
                }
                console.vmm(line);
            }
        };
        VmmProcess proc;
        try {
            proc = VmmProcess.start(cmd, tee);
        } catch (IOException e) {
            envFile.ifPresent(QemuMicrovmBackend::deleteQuietly);
            throw new QemuException("cannot start " + qemu + ": " + e.getMessage(), e);
        }
        try {
            awaitMonitor(proc, qmp, lastErrors);
        } catch (QemuException e) {
            envFile.ifPresent(QemuMicrovmBackend::deleteQuietly);
            throw e;
        }
        String describe = "QEMU microvm, " + (accel.kvm() ? "KVM" : "TCG (software emulation: " + accel.reason() + ")")
                + ", " + spec.cpus() + " vCPU, " + spec.memoryMib() + " MiB"
                + (spec.ports().isEmpty() ? "" : ", ports " + spec.ports())
                + (mode == Mode.RESTORE ? ", restored from " + incoming.getFileName() : "");
        QemuVm vm = new QemuVm(proc, qmp, describe);
        if (mode == Mode.RESTORE) {
            try {
                loadAndResume(vm, qmp, incoming, spec);
            } catch (QemuException e) {
                proc.kill();
                throw e;
            }
        }
        return new Started(vm, qemu, accel);
    }

    /** The parameters of the boot a snapshot is made of: no environment (it would be saved), QEMU's network. */
    static GuestParams snapshotParams() {
        return new GuestParams(Map.of(), GuestParams.defaults().graceMs(), "text", false,
                Optional.of(io.ukernel.vmm.NetConfig.QEMU_USER), GuestParams.Halt.POWEROFF, false);
    }

    /**
     * The command line of the boot a snapshot is made of, or of a restore of it ({@code incoming}): the same
     * machine in both — a network device always (the saved guest has its {@code eth0} up; without published ports
     * the user-mode network is {@code restrict=on}: no way out of the guest, as a cold boot without {@code -p} has
     * none), no fw_cfg environment (the restore record carries it), and {@code -S -incoming defer} to restore.
     */
    static List<String> snapshotCommand(Path qemu, VmSpec spec, Accelerator accel, Path qmp, boolean incoming) {
        List<String> c = new ArrayList<>(List.of(qemu.toString(),
                "-M", "microvm", "-accel", accel.name(), "-cpu", accel.kvm() ? "host" : "max",
                "-smp", Integer.toString(spec.cpus()), "-m", spec.memoryMib() + "M",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-serial", "stdio", "-device", "i8042",
                "-qmp", "unix:" + qmp + ",server=on,wait=off",
                "-kernel", spec.kernel().toString(),
                "-initrd", spec.initrd().orElseThrow().toString(),
                "-append", snapshotAppend(accel)));
        StringBuilder netdev = new StringBuilder("user,id=net0,restrict=" + (spec.ports().isEmpty() ? "on" : "off"));
        for (PortForward p : spec.ports()) {
            netdev.append(",hostfwd=tcp:127.0.0.1:").append(p.hostPort()).append("-:").append(p.guestPort());
        }
        c.addAll(List.of("-netdev", netdev.toString(), "-device", "virtio-net-device,netdev=net0"));
        if (incoming) {
            c.addAll(List.of("-S", "-incoming", "defer"));
        }
        return c;
    }

    private static String snapshotAppend(Accelerator accel) {
        // init_on_free=1: pages the guest frees are zeroed, and QEMU saves a zero page as a flag — the initramfs
        // Linux unpacked and freed (the image's size again) and what the JVM's start-up freed cost nothing
        return BootArgs.qemu(snapshotParams(), accel.kvm() ? 0 : hostTscKhz()) + " init_on_free=1 "
                + io.ukernel.vmm.RestoreRecord.SNAPSHOT_WORD;
    }

    /** What a snapshot's machine is, for its key: everything on the command line but file and socket paths. */
    static String machine(VmSpec spec, Accelerator accel) {
        return "microvm accel=" + accel.name() + " cpu=" + (accel.kvm() ? "host" : "max") + " smp=" + spec.cpus()
                + " m=" + spec.memoryMib() + "M i8042 serial virtio-net append=" + snapshotAppend(accel);
    }

    /** QEMU's version line ({@code qemu-system-x86_64 --version}). */
    String version(Path qemu) throws QemuException {
        try {
            Process p = new ProcessBuilder(qemu.toString(), "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            p.waitFor();
            return out.lines().findFirst().orElse("").strip();
        } catch (IOException e) {
            throw new QemuException("cannot run " + qemu + " --version: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QemuException("interrupted");
        }
    }

    /**
     * Boots {@code spec}'s image to the guest's snapshot point and saves the VM there: {@code stop}, then QEMU's
     * migration stream into {@code dist/NAME.snap} (written to a temporary name and renamed when complete), then
     * its key ({@link QemuSnapshot}). {@code spec}'s environment and ports are not used: the snapshot holds none.
     *
     * @return the stream's path
     * @throws QemuException if the guest does not reach the point within {@code timeoutSeconds} or the save fails
     */
    @Override
    public Path snapshotFile(Path dist, String name) {
        return QemuSnapshot.stream(dist, name);
    }

    @Override
    public Path snapshot(VmSpec spec, Path dist, ConsoleListener console, long timeoutSeconds) throws QemuException {
        java.util.concurrent.CountDownLatch ready = new java.util.concurrent.CountDownLatch(1);
        ConsoleListener watch = new ConsoleListener() {
            @Override
            public void guest(String line) {
                if (line.strip().equals(io.ukernel.vmm.RestoreRecord.READY_LINE)) {
                    ready.countDown();
                }
                console.guest(line);
            }

            @Override
            public void vmm(String line) {
                console.vmm(line);
            }
        };
        VmSpec s = new VmSpec(spec.name(), spec.kernel(), spec.initrd(), Optional.empty(), spec.cpus(),
                spec.memoryMib(), List.of(), snapshotParams(), spec.runDir());
        Started st = start(s, watch, Mode.SNAPSHOT, null);
        Path stream = QemuSnapshot.stream(dist, spec.name());
        Path keyFile = QemuSnapshot.keyFile(dist, spec.name());
        Path tmp = dist.resolve("." + spec.name() + ".snap.tmp-" + ProcessHandle.current().pid());
        try {
            Map<String, String> key = QemuSnapshot.key(spec.initrd().orElseThrow(), spec.kernel(), version(st.qemu()),
                    machine(s, st.accel()));
            boolean reached = false;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            while (!reached && st.vm().alive() && System.nanoTime() < deadline) {
                reached = ready.await(100, TimeUnit.MILLISECONDS);
            }
            if (!reached) {
                throw new QemuException(st.vm().alive() ? "the guest did not reach its snapshot point within "
                        + timeoutSeconds + " s" : "the VM ended before its snapshot point (see the console above)");
            }
            Files.deleteIfExists(keyFile);
            Files.deleteIfExists(stream);
            Files.deleteIfExists(tmp);
            try (QmpClient c = QmpClient.connect(s.runDir().resolve("qmp.sock"))) {
                c.execute("stop", null);
                // QEMU 7 limits migration to 128 MiB/s by default; a stopped VM to a file need not be throttled
                c.execute("migrate-set-parameters", Map.of("max-bandwidth", 1L << 40));
                c.execute("migrate", Map.of("uri", "exec:cat > " + shellQuote(tmp.toString())));
                awaitMigration(c, "saving the VM");
                c.quit();
            }
            st.vm().waitFor(30, TimeUnit.SECONDS);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            Files.move(tmp, stream, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            QemuSnapshot.writeKey(keyFile, key, stream, spec.initrd().orElseThrow(), spec.kernel());
            return stream;
        } catch (IOException e) {
            throw new QemuException("cannot write the snapshot in " + dist + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QemuException("interrupted while making the snapshot");
        } finally {
            st.vm().kill();
            deleteQuietly(tmp);
        }
    }

    /**
     * Why the snapshot beside {@code spec}'s image cannot be restored into the VM {@code spec} describes (another
     * image, kernel, QEMU, machine; damaged), empty when it can; "no snapshot" when there is none.
     */
    @Override
    public Optional<String> snapshotMismatch(VmSpec spec, Path dist) throws QemuException {
        Path stream = QemuSnapshot.stream(dist, spec.name());
        if (!Files.isRegularFile(stream)) {
            return Optional.of("there is none (make one with `ukernel pack --snapshot`)");
        }
        Path qemu = locate();
        Accelerator accel = Accelerator.detect(qemu, spec.kernel(), env, cacheDir);
        try {
            Path keyFile = QemuSnapshot.keyFile(dist, spec.name());
            return QemuSnapshot.check(stream, keyFile, QemuSnapshot.expected(keyFile, spec.initrd().orElseThrow(),
                    spec.kernel(), version(qemu), machine(spec, accel)));
        } catch (IOException e) {
            return Optional.of("it cannot be read: " + e.getMessage());
        }
    }

    /**
     * Restores the snapshot {@code dist/NAME.snap} (checked with {@link #snapshotMismatch} first) with {@code spec}'s
     * ports, then writes the {@link io.ukernel.vmm.RestoreRecord} (fresh clock and entropy, {@code spec}'s
     * parameters and environment) to the guest's console input.
     *
     * @throws QemuException if QEMU cannot load the stream (the VM is ended; nothing of it ran)
     */
    @Override
    public RunningVm restore(VmSpec spec, Path dist, ConsoleListener console) throws QemuException {
        return start(spec, console, Mode.RESTORE, QemuSnapshot.stream(dist, spec.name())).vm();
    }

    private void loadAndResume(QemuVm vm, Path qmp, Path stream, VmSpec spec) throws QemuException {
        try (QmpClient c = QmpClient.connect(qmp)) {
            c.execute("migrate-incoming", Map.of("uri", "exec:cat " + shellQuote(stream.toString())));
            awaitMigration(c, "loading the snapshot " + stream.getFileName());
            c.execute("cont", null);
        }
        io.ukernel.vmm.RestoreRecord r = io.ukernel.vmm.RestoreRecord.fresh(spec.params(),
                new java.security.SecureRandom(), !"1".equals(env.get(io.ukernel.vmm.RestoreRecord.ENV_INSECURE_NO_RESEED)));
        try {
            java.io.OutputStream in = vm.consoleInput();
            in.write(r.toLine().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            in.flush();
        } catch (IOException e) {
            throw new QemuException("cannot hand the restored guest its clock and parameters: " + e.getMessage(), e);
        }
    }

    /** Polls {@code query-migrate} until the migration completed; throws with QEMU's reason if it failed. */
    private static void awaitMigration(QmpClient c, String what) throws QemuException {
        while (true) {
            Object r = c.execute("query-migrate", null);
            Object status = r instanceof Map<?, ?> m ? m.get("status") : null;
            if ("completed".equals(status)) {
                return;
            }
            if ("failed".equals(status) || "cancelled".equals(status)) {
                Object desc = r instanceof Map<?, ?> m ? m.get("error-desc") : null;
                throw new QemuException("QEMU failed " + what + (desc == null ? "" : ": " + desc));
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new QemuException("interrupted while " + what);
            }
        }
    }

    /** {@code s} single-quoted for {@code /bin/sh} (QEMU runs {@code exec:} URIs through it). */
    static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /**
     * The environment for the guest ({@link GuestParams#envBlob}) in an owner-only file ({@code 0600}, created so,
     * in the run's {@code 0700} directory) for {@code -fw_cfg}: on QEMU's command line it would be readable by
     * every local user ({@code ps}, {@code /proc/PID/cmdline}). Empty when there is no environment. The file is
     * deleted as soon as the guest runs (QEMU has read it by then).
     */
    static Optional<Path> writeEnvFile(VmSpec spec) throws IOException {
        if (spec.params().env().isEmpty()) {
            return Optional.empty();
        }
        Path f = spec.runDir().resolve("guest.env");
        Files.deleteIfExists(f);
        Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.write(f, spec.params().envBlob());
        return Optional.of(f);
    }

    private static void deleteQuietly(Path f) {
        try {
            Files.deleteIfExists(f);
        } catch (IOException e) {
            // the run's directory is deleted when the run ends
        }
    }

    /** The command line (visible for tests): no secret on it; the environment, if any, is {@code envFile}. */
    static List<String> command(Path qemu, VmSpec spec, Accelerator accel, Path qmp, Optional<Path> envFile) {
        List<String> c = new ArrayList<>(List.of(qemu.toString(),
                "-M", "microvm", "-accel", accel.name(), "-cpu", accel.kvm() ? "host" : "max",
                "-smp", Integer.toString(spec.cpus()), "-m", spec.memoryMib() + "M",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-serial", "stdio", "-device", "i8042",
                "-qmp", "unix:" + qmp + ",server=on,wait=off",
                "-kernel", spec.kernel().toString(),
                "-initrd", spec.initrd().orElseThrow().toString(),
                "-append", BootArgs.qemu(spec.params(), accel.kvm() ? 0 : hostTscKhz())));
        envFile.ifPresent(f -> c.addAll(List.of("-fw_cfg", "name=" + GuestParams.FW_CFG_ENV + ",file=" + f)));
        if (spec.params().net().isPresent() || !spec.ports().isEmpty()) {
            StringBuilder netdev = new StringBuilder("user,id=net0,restrict=off");
            for (PortForward p : spec.ports()) {
                netdev.append(",hostfwd=tcp:127.0.0.1:").append(p.hostPort()).append("-:").append(p.guestPort());
            }
            c.addAll(List.of("-netdev", netdev.toString(), "-device", "virtio-net-device,netdev=net0"));
        }
        return c;
    }

    /**
     * The host's TSC frequency in kHz, from {@code /proc/cpuinfo}: x86 Linux derives {@code bogomips} from the
     * TSC (twice its MHz) when the TSC is constant. 0 when unknown.
     */
    static long hostTscKhz() {
        try {
            String info = Files.readString(Path.of("/proc/cpuinfo"));
            if (!info.contains("constant_tsc")) {
                return 0;
            }
            for (String line : info.split("\n")) {
                if (line.startsWith("bogomips")) {
                    double bogomips = Double.parseDouble(line.substring(line.indexOf(':') + 1).strip());
                    return Math.round(bogomips * 500);
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    private static void awaitMonitor(VmmProcess proc, Path qmp, Deque<String> lastErrors) throws QemuException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            if (Files.exists(qmp)) {
                return;
            }
            if (!proc.alive()) {
                try {
                    proc.waitFor(1, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                String why;
                synchronized (lastErrors) {
                    why = String.join(" / ", lastErrors);
                }
                throw new QemuException("QEMU exited at start (status " + proc.process().exitValue() + ")"
                        + (why.isEmpty() ? "" : ": " + why));
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                proc.kill();
                throw new QemuException("interrupted while QEMU started");
            }
        }
        proc.kill();
        throw new QemuException("QEMU did not open its monitor socket " + qmp + " within 10 s");
    }

    /** A running QEMU: stopped through QMP (a Ctrl-Alt-Del key press). */
    static final class QemuVm extends ControlledVm {
        QemuVm(VmmProcess proc, Path qmp, String describe) {
            super(proc, qmp, describe);
        }

        /** The guest's serial console input (QEMU's stdin). */
        java.io.OutputStream consoleInput() {
            return proc.process().getOutputStream();
        }

        @Override
        protected void sendCtrlAltDel(Path qmp) throws VmmException {
            try (QmpClient c = QmpClient.connect(qmp)) {
                c.ctrlAltDel();
            }
        }
    }
}
