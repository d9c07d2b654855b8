package io.ukernel.vmm.guest;

import io.ukernel.app.Manifest;
import io.ukernel.app.AppKernel;
import io.ukernel.app.ManifestParser;
import io.ukernel.kernel.Kernel;
import io.ukernel.kernel.KernelClock;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.Level;
import io.ukernel.kernel.console.LineFormat;
import io.ukernel.platform.process.ProcessPlatform;
import io.ukernel.vmm.GuestParams;
import io.ukernel.vmm.RestoreRecord;
import io.ukernel.vmm.image.ImageBuilder;
import io.ukernel.vmm.image.ImageInfo;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import sun.misc.Signal;

/**
 * The kernel as PID 1 of a microVM. The image's {@code /init} execs the JVM with this class; it
 *
 * <ol>
 *   <li>mounts {@code /proc}, {@code /sys}, {@code /dev} (devtmpfs) and {@code /tmp} (tmpfs), and turns
 *       Ctrl-Alt-Del into SIGINT to itself (the host's clean stop request);</li>
 *   <li>reads the run's {@link GuestParams} from {@code /proc/cmdline} (under QEMU, the environment from the
 *       fw_cfg item {@link GuestParams#FW_CFG_ENV}) and the image's {@link ImageInfo};</li>
 *   <li>brings up loopback, and {@code eth0} when the host asked for networking (loading the virtio modules);</li>
 *   <li>runs the kernel on the serial console exactly as {@code ukernel run} does on the host — the same
 *       banner, the same process platform for workers (loader, confinement), the same restart policy;</li>
 *   <li>prints {@code ukernel: app exited with status N} last, syncs, and powers the VM off (or reboots it,
 *       which is how a Firecracker VM ends).</li>
 * </ol>
 *
 * PID 1 must never exit (Linux panics), so every failure ends in the same power-off with status 70.
 */
public final class GuestInit {
    private static final String IMAGE_INFO = "/" + ImageInfo.PATH;

    private final PrintStream out;
    private final List<String> notes = new ArrayList<>();
    /** Guest uptime (s) when main() started and when the mounts were done: the boot's milestones. */
    private final double mainAt;
    private double mountedAt;

    private GuestInit(PrintStream out, double mainAt) {
        this.out = out;
        this.mainAt = mainAt;
    }

    /**
     * Entry point. As PID 1 arguments are ignored (the run's parameters come from {@code /proc/cmdline});
     * {@code --train PYTHON APP} is the AOT training run {@code ukernel pack} makes on the host.
     */
    public static void main(String[] args) throws Exception {
        double mainAt = uptime();                 // /init mounted /proc before starting the JVM
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
                StandardCharsets.UTF_8);
        if (args.length == 3 && args[0].equals("--train")) {
            if (AotTraining.run(Path.of(args[1]), Path.of(args[2])) != 0) {
                System.exit(1);
            }
            return;
        }
        if (ProcessHandle.current().pid() != 1) {
            out.println("ukernel: GuestInit runs only as PID 1 of a ukernel microVM (see docs/microvm.md)");
            System.exit(2);
        }
        GuestParams.Halt halt = GuestParams.Halt.POWEROFF;
        int status = 70;
        try {
            GuestInit init = new GuestInit(out, mainAt);
            init.mountAll();
            init.mountedAt = uptime();
            String cmdline = Files.readString(Path.of("/proc/cmdline"), StandardCharsets.UTF_8);
            GuestParams params = GuestParams.parse(cmdline);
            halt = params.halt();
            status = init.run(params, cmdline);
        } catch (Throwable t) {
            out.println("ukernel: the guest init failed: " + t);
            t.printStackTrace(out);
        }
        end(out, status, halt);
    }

    private void mountAll() throws IOException {
        Linux.mount("proc", "/proc", "proc", Linux.MS_NOSUID | Linux.MS_NODEV | Linux.MS_NOEXEC, null);
        Linux.mount("sysfs", "/sys", "sysfs", Linux.MS_NOSUID | Linux.MS_NODEV | Linux.MS_NOEXEC, null);
        Linux.mount("devtmpfs", "/dev", "devtmpfs", Linux.MS_NOSUID, "mode=0755");
        Linux.mount("tmpfs", "/tmp", "tmpfs", Linux.MS_NOSUID | Linux.MS_NODEV, "mode=1777");
        Linux.reboot(Linux.LINUX_REBOOT_CMD_CAD_OFF);
    }

    private int run(GuestParams params, String cmdline) throws Exception {
        ImageInfo info = ImageInfo.parse(Files.readAllBytes(Path.of(IMAGE_INFO)));
        if (GuestParams.envInFwCfg(cmdline)) {
            params = params.withEnv(GuestParams.decodeEnvBlob(fwCfgEnv(info)));
        }
        try {
            Linux.sethostname(info.app());
        } catch (IOException e) {
            notes.add("hostname not set: " + e.getMessage());
        }
        String net = network(params, info, cmdline);
        String restored = "";
        if (RestoreRecord.snapshotMode(cmdline)) {
            warmUp(info, clock(), params);
            double readyAt = uptime();
            // The host saves the VM while this waits; each restore of it goes on from here with its own record.
            RestoreRecord r = awaitRestore();
            params = r.params();
            restored = String.format(Locale.ROOT, "; restored from a snapshot made at %.2f s, resumed at %.2f s "
                    + "(wall clock set, %s)", readyAt, resumedAt, r.reseed() ? "entropy reseeded"
                    : "entropy NOT reseeded: " + RestoreRecord.ENV_INSECURE_NO_RESEED + " was set on the host");
        }
        // The guest's CLOCK_MONOTONIC starts with its kernel: console times are times since the VM booted.
        KernelClock clock = clock();
        LineFormat format = LineFormat.parse(params.logFormat());
        try (Console console = Console.open(clock, format, out, null, params.debug())) {
            int cpus = Runtime.getRuntime().availableProcessors();
            String where = "linux " + release() + ", " + cpus + " vCPU, " + memoryMib() + " MiB";
            console.kernel(Level.INFO, String.format(Locale.ROOT, "microvm: JVM main at %.2f s, mounts done %.2f s, "
                    + "console up %.2f s (guest uptime; %s); network: %s%s", mainAt, mountedAt, uptime(), where, net,
                    restored));
            notes.forEach(n -> console.kernel(Level.WARN, "microvm: " + n));
            Path app = Path.of(ImageBuilder.APP_DIR);
            Manifest manifest = ManifestParser.parse(app.resolve(Manifest.FILE_NAME));
            if (!manifest.name().equals(info.app())) {
                console.kernel(Level.WARN, "microvm: the image says app " + info.app() + " but /app holds "
                        + manifest.name());
            }
            MicrovmPlatform platform = new MicrovmPlatform(new ProcessPlatform(Path.of(info.python()),
                    info.pythonVersion(), sandbox(manifest, params)), where);
            Kernel kernel = AppKernel.kernel(manifest, app, app, params.env(), platform, console, clock,
                    params.graceMs() * 1_000_000L);
            // Ctrl-Alt-Del (SendCtrlAltDel, QMP send-key) arrives as SIGINT to init; SIGTERM for completeness.
            Signal.handle(new Signal("INT"), s -> kernel.stop("Ctrl-Alt-Del from the host"));
            Signal.handle(new Signal("TERM"), s -> kernel.stop("SIGTERM"));
            return kernel.run();
        }
    }

    /**
     * The snapshot point: turns echo off on the console, says {@link RestoreRecord#READY_LINE} and reads one line
     * from the console, the host's {@link RestoreRecord} — written only after a restore, so the VM is saved while
     * this read blocks. Then sets the wall clock (it stood still while the snapshot was on disk) and reseeds the
     * kernel's CRNG with the host's bytes (every restore would otherwise draw the same random numbers), before
     * any worker starts: Python's {@code random}, {@code secrets}, {@code ssl} and the kernel's tokens are all
     * seeded after this.
     */
    /**
     * Before a snapshot: runs, once, the kernel-side code every run needs and that depends on nothing of the run —
     * the clock and entropy calls, the restore record's parser, the manifest's, the console, the process platform
     * and its host probe (an FFM binding of its own) — so that it is loaded, linked and compiled in the saved VM and not again after each
     * restore. Nothing here is kept: the run builds its own after the restore. Failures only cost the warm-up.
     */
    private void warmUp(ImageInfo info, KernelClock clock, GuestParams params) {
        try {
            // the calls the restore makes, made harmlessly: the clock set to itself, the pool fed its own bytes
            java.time.Instant now = java.time.Instant.now();
            Linux.setWallClock(now.getEpochSecond() * 1_000_000_000L + now.getNano());
            byte[] own = new byte[RestoreRecord.SEED_BYTES];
            new java.security.SecureRandom().nextBytes(own);
            Linux.reseedRandom(own);
            RestoreRecord.parse(new RestoreRecord(0, new byte[RestoreRecord.SEED_BYTES], params.withEnv(
                    java.util.Map.of("WARM", "up")), true).toLine());
            Manifest manifest = ManifestParser.parse(Path.of(ImageBuilder.APP_DIR).resolve(Manifest.FILE_NAME));
            PrintStream discard = new PrintStream(java.io.OutputStream.nullOutputStream(), true,
                    StandardCharsets.UTF_8);
            try (Console console = Console.open(clock, LineFormat.parse("text"), discard, null, false)) {
                ProcessPlatform platform = new ProcessPlatform(Path.of(info.python()), info.pythonVersion(),
                        sandbox(manifest, params));
                console.kernel(Level.INFO, "warm-up: " + platform.describe() + "; " + platform.confinement());
                console.kernel(Level.INFO, String.format(Locale.ROOT, "warm-up %.2f", uptime()));
            }
        } catch (Exception | LinkageError e) {
            notes.add("warm-up before the snapshot failed (restores start slower): " + e);
        }
    }

    private double resumedAt;

    private RestoreRecord awaitRestore() throws IOException {
        Linux.rawNoEcho(0);
        out.println(RestoreRecord.READY_LINE);
        out.flush();
        java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
        java.io.FileInputStream in = new java.io.FileInputStream(java.io.FileDescriptor.in);
        for (int b; (b = in.read()) != '\n'; ) {
            if (b < 0) {
                throw new IOException("the console closed before the host sent the restore record");
            }
            if (b != '\r' && line.size() < (1 << 20)) {
                line.write(b);
            }
        }
        resumedAt = uptime();
        RestoreRecord r = RestoreRecord.parse(line.toString(StandardCharsets.UTF_8));
        Linux.setWallClock(r.wallNs());
        if (r.reseed()) {
            Linux.reseedRandom(r.seed());
        }
        return r;
    }

    /**
     * The environment QEMU passed in the fw_cfg item {@link GuestParams#FW_CFG_ENV} (not on the command line, where
     * the host's other users could read it): loads the {@code qemu_fw_cfg} driver the image carries (unless built
     * in) and reads the item from sysfs.
     */
    private static byte[] fwCfgEnv(ImageInfo info) throws IOException {
        for (String m : info.modules()) {
            if (Path.of(m).getFileName().toString().startsWith("qemu_fw_cfg.")) {
                Linux.loadModule(m, "");
            }
        }
        Path item = Path.of(GuestParams.FW_CFG_ENV_SYSFS);
        if (!Files.exists(item)) {
            throw new IOException("the host passed the environment in fw_cfg, but " + item + " is missing (the "
                    + "image has no qemu_fw_cfg driver for this kernel: repack with `ukernel pack`)");
        }
        return Files.readAllBytes(item);
    }

    /** The workers' confinement, decided as {@code ukernel run} decides it on the host. */
    private static ProcessPlatform.Sandbox sandbox(Manifest manifest, GuestParams params) {
        return AppKernel.sandbox(manifest, params.noSandbox());
    }

    private String network(GuestParams params, ImageInfo info, String cmdline) {
        List<String> up = new ArrayList<>();
        try {
            Network.loopback();
            up.add("lo");
        } catch (IOException e) {
            notes.add("loopback not up: " + e.getMessage());
        }
        if (params.net().isPresent()) {
            try {
                Network.ethernet(params.net().get(), info.modules(), cmdline);
                up.add("eth0 " + params.net().get().address() + "/" + params.net().get().prefix() + " via "
                        + params.net().get().gateway());
                if (params.net().get().address().startsWith("10.0.2.")) {
                    // QEMU's user-mode network answers DNS at 10.0.2.3
                    Files.writeString(Path.of("/etc/resolv.conf"), "nameserver 10.0.2.3\n");
                }
            } catch (IOException e) {
                notes.add("eth0 not configured: " + e.getMessage());
            }
        }
        return up.isEmpty() ? "none" : String.join(", ", up);
    }

    /** Prints the exit line, syncs and ends the VM. Never returns. */
    private static void end(PrintStream out, int status, GuestParams.Halt halt) {
        out.println(GuestParams.exitLine(status));
        out.flush();
        Linux.sync();
        try {
            Linux.reboot(halt == GuestParams.Halt.REBOOT ? Linux.LINUX_REBOOT_CMD_RESTART
                    : Linux.LINUX_REBOOT_CMD_POWER_OFF);
        } catch (Throwable t) {
            out.println("ukernel: cannot end the VM: " + t);
        }
        // Not reached when reboot succeeds. PID 1 must not exit: wait to be ended from outside.
        while (true) {
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException ignored) {
                // keep waiting
            }
        }
    }

    private static KernelClock clock() {
        return new KernelClock() {
            @Override
            public long monotonicNs() {
                return System.nanoTime();
            }

            @Override
            public long wallNs() {
                java.time.Instant now = java.time.Instant.now();
                return now.getEpochSecond() * 1_000_000_000L + now.getNano();
            }
        };
    }

    private static double uptime() {
        try {
            String s = Files.readString(Path.of("/proc/uptime"), StandardCharsets.US_ASCII);
            return Double.parseDouble(s.substring(0, s.indexOf(' ')));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static String release() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/osrelease"), StandardCharsets.US_ASCII).strip();
        } catch (IOException e) {
            return "?";
        }
    }

    private static long memoryMib() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (l.startsWith("MemTotal:")) {
                    return Long.parseLong(l.replaceAll("\\D", "")) / 1024;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // unknown
        }
        return -1;
    }
}
