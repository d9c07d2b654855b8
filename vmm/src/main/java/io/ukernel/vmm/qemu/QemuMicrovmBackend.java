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
public final class QemuMicrovmBackend implements VmmBackend {
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
            envFile = writeEnvFile(spec);
        } catch (IOException e) {
            throw new QemuException("cannot prepare " + spec.runDir() + ": " + e.getMessage(), e);
        }
        List<String> cmd = command(qemu, spec, accel, qmp, envFile);
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
                + (spec.ports().isEmpty() ? "" : ", ports " + spec.ports());
        return new QemuVm(proc, qmp, describe);
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
    private static final class QemuVm extends ControlledVm {
        QemuVm(VmmProcess proc, Path qmp, String describe) {
            super(proc, qmp, describe);
        }

        @Override
        protected void sendCtrlAltDel(Path qmp) throws VmmException {
            try (QmpClient c = QmpClient.connect(qmp)) {
                c.ctrlAltDel();
            }
        }
    }
}
