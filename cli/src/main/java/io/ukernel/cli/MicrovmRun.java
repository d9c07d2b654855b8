package io.ukernel.cli;

import io.ukernel.app.EnvFile;
import io.ukernel.app.EnvFileException;
import io.ukernel.vmm.GuestParams;
import io.ukernel.vmm.NetConfig;
import io.ukernel.vmm.PortForward;
import io.ukernel.vmm.VmSpec;
import io.ukernel.vmm.VmmException;
import io.ukernel.vmm.firecracker.FirecrackerBackend;
import io.ukernel.vmm.image.ImageBuilder;
import io.ukernel.vmm.image.ImageInfo;
import io.ukernel.vmm.qemu.QemuMicrovmBackend;
import io.ukernel.vmm.spi.ConsoleListener;
import io.ukernel.vmm.spi.RunningVm;
import io.ukernel.vmm.spi.VmmBackend;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import sun.misc.Signal;

/**
 * {@code ukernel run --vmm qemu|firecracker}: packs the image when stale, boots it, streams the guest's serial
 * console to the terminal and {@code logs/console.log}, and exits with the status the guest's kernel reports on
 * its last line ({@value GuestParams#EXIT_LINE_PREFIX}N). SIGINT/SIGTERM ask the guest to stop (Ctrl-Alt-Del);
 * a second one, or a guest that does not end within the grace period plus a margin, ends the VMM.
 */
final class MicrovmRun {
    /** Environment variable naming an image (or, for Firecracker, a root disk image) to boot instead of dist/. */
    static final String ENV_ROOTFS = "UKERNEL_ROOTFS";
    /** The guest's eth0 under Firecracker's tap networking unless {@code UKERNEL_FC_NET} says otherwise. */
    static final NetConfig FIRECRACKER_NET = new NetConfig("172.16.0.2", 24, "172.16.0.1");
    private static final long STOP_MARGIN_MS = 20_000;

    private final RunCommand cmd;
    private final PrintWriter err;
    private final PrintStream terminal;

    MicrovmRun(RunCommand cmd, PrintWriter err, PrintStream terminal) {
        this.cmd = cmd;
        this.err = err;
        this.terminal = terminal;
    }

    int call(String vmm) throws Exception {
        Path app = cmd.dir.toAbsolutePath().normalize();
        PackCommand.requireApp(app);
        if (!cmd.logFormat.equals("text") && !cmd.logFormat.equals("json")) {
            throw new UserError("--log-format must be text or json, got \"" + cmd.logFormat + "\"");
        }
        if (cmd.graceSeconds < 0) {
            throw new UserError("--grace must be zero or more seconds, got " + cmd.graceSeconds);
        }
        List<PortForward> ports = new ArrayList<>();
        for (String p : cmd.publish) {
            try {
                ports.add(PortForward.parse(p));
            } catch (IllegalArgumentException e) {
                throw new UserError(e.getMessage());
            }
        }
        // Everything the user typed is checked before QEMU is looked for and the image packed (which can take a
        // minute): a typo in --memory or -e must not cost a pack first.
        int memoryMib = memoryMib(cmd.memory);
        try {
            VmSpec.checkResources(cmd.cpus, memoryMib);
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        }
        Map<String, String> environment = RunCommand.environment(app, cmd.envFiles, cmd.env);
        Map<String, String> hostEnv = System.getenv();
        boolean firecracker = vmm.equals("firecracker");
        VmmBackend backend = firecracker ? new FirecrackerBackend(hostEnv, Duration.ofSeconds(5))
                : new QemuMicrovmBackend(hostEnv, ImageBuilder.Inputs.defaultCacheDir());
        try {
            if (backend instanceof QemuMicrovmBackend q) {
                q.locate();                             // say "QEMU is not installed" before packing for nothing
            } else if (backend instanceof FirecrackerBackend f) {
                f.locate();
            }
        } catch (VmmException e) {
            throw new UserError(e.getMessage(), e);
        }
        BuildCommand.Result build = BuildCommand.buildIfStale(app, err);
        String name = build.manifest().name();
        Boot boot = image(app, name, build.bundle().sha256(), firecracker);

        Optional<NetConfig> net = net(firecracker, !ports.isEmpty(), hostEnv);
        GuestParams params = new GuestParams(environment, (long) (cmd.graceSeconds * 1000), cmd.logFormat,
                cmd.debug, net, firecracker ? GuestParams.Halt.REBOOT : GuestParams.Halt.POWEROFF, cmd.insecureNoSandbox);
        Path runDir = Files.createTempDirectory("ukvm-");
        VmSpec spec;
        try {
            spec = new VmSpec(name, boot.kernel(), boot.initrd(), boot.drive(), cmd.cpus, memoryMib,
                    ports, params, runDir);
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        }
        try (ConsoleLog log = ConsoleLog.open(app, name, cmd.quiet ? null : terminal);
             RunRegistry.Registration _ = RunRegistry.register(name, "microvm", backend.name(), app,
                     ports.stream().map(PortForward::toString).reduce((a, b) -> a + "," + b).orElse(""))) {
            boolean rootfs = System.getenv(ENV_ROOTFS) != null && !System.getenv(ENV_ROOTFS).isBlank();
            return boot(backend, spec, log, cmd.noSnapshot || rootfs ? null : app.resolve("dist"));
        } finally {
            deleteQuietly(runDir);
        }
    }

    /** The guest's network: QEMU's user network with published ports; Firecracker's tap when one is set. */
    static Optional<NetConfig> net(boolean firecracker, boolean ports, Map<String, String> hostEnv) {
        if (ports || (firecracker && hostEnv.containsKey(FirecrackerBackend.ENV_TAP))) {
            return Optional.of(firecracker ? Optional.ofNullable(hostEnv.get("UKERNEL_FC_NET")).map(NetConfig::parse)
                    .orElse(FIRECRACKER_NET) : NetConfig.QEMU_USER);
        }
        return Optional.empty();
    }

    private int boot(VmmBackend backend, VmSpec spec, ConsoleLog log, Path dist) throws UserError,
            InterruptedException {
        AtomicReference<Integer> status = new AtomicReference<>();
        ConsoleListener listener = new ConsoleListener() {
            @Override
            public void guest(String line) {
                GuestParams.parseExitLine(line).ifPresent(status::set);
                log.line(line);
            }

            @Override
            public void vmm(String line) {
                log.line(backend.name() + ": " + line);
            }
        };
        log.line("ukernel: booting " + spec.name() + " under " + backend.name() + " (" + spec.initrd().or(spec::rootDrive)
                .map(InitCommand::display).orElse("") + ", kernel " + InitCommand.display(spec.kernel()) + ")");
        RunningVm vm = null;
        try {
            if (dist != null && backend instanceof io.ukernel.vmm.spi.Snapshots q) {
                vm = restore(q, spec, dist, listener, log);
            }
            if (vm == null) {
                vm = backend.boot(spec, listener);
            }
        } catch (VmmException e) {
            throw new UserError(e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage(), e);
        }
        log.line("ukernel: " + vm.describe());
        AtomicBoolean stopping = new AtomicBoolean();
        installSignalHandlers(vm, spec, stopping, log);
        int rc = vm.waitFor(Long.MAX_VALUE, TimeUnit.DAYS);
        Integer s = status.get();
        if (s != null) {
            return s;
        }
        if (stopping.get()) {
            log.line("ukernel: the VM was stopped before the app reported its status");
            return 143;
        }
        log.line("ukernel: the VM ended (" + backend.name() + " exit status " + rc + ") without the app's status; "
                + "see logs/console.log");
        return 70;
    }

    /**
     * Restores the snapshot in {@code dist} when there is one and it matches; null (boot cold) when there is none, and
     * also — after one line saying why — when it does not match or QEMU cannot load it.
     */
    private static RunningVm restore(io.ukernel.vmm.spi.Snapshots q, VmSpec spec, Path dist,
            ConsoleListener listener, ConsoleLog log) throws VmmException {
        Path snap = q.snapshotFile(dist, spec.name());
        if (!Files.isRegularFile(snap)) {
            return null;
        }
        String shown = InitCommand.display(snap);
        String remake = "`ukernel pack --snapshot" + (q instanceof FirecrackerBackend ? " --vmm firecracker`" : "`");
        Optional<String> why = q.snapshotMismatch(spec, dist);
        if (why.isPresent()) {
            log.line("ukernel: not restoring " + shown + ": " + why.get() + "; booting cold (remake it with " + remake
                    + ", or delete it)");
            return null;
        }
        log.line("ukernel: restoring " + shown);
        try {
            return q.restore(spec, dist, listener);
        } catch (VmmException e) {
            log.line("ukernel: could not restore " + shown + " (" + e.getMessage() + "); booting cold (remake it "
                    + "with " + remake + ", or delete it)");
            return null;
        }
    }

    private void installSignalHandlers(RunningVm vm, VmSpec spec, AtomicBoolean stopping, ConsoleLog log) {
        for (String sig : List.of("INT", "TERM")) {
            Signal.handle(new Signal(sig), s -> {
                if (stopping.compareAndSet(false, true)) {
                    log.line("ukernel: SIG" + sig + " received; asking the guest to stop (Ctrl-Alt-Del)");
                    vm.requestStop();
                    Thread.ofVirtual().start(() -> {
                        try {
                            if (vm.waitFor(spec.params().graceMs() + STOP_MARGIN_MS, TimeUnit.MILLISECONDS) < 0) {
                                log.line("ukernel: the guest did not stop in time; ending the VM");
                                vm.kill();
                            }
                        } catch (InterruptedException e) {
                            vm.kill();
                        }
                    });
                } else {
                    log.line("ukernel: SIG" + sig + " received again; ending the VM");
                    vm.kill();
                }
            });
        }
    }

    /**
     * What to boot.
     *
     * @param kernel the guest kernel
     * @param initrd the image, unless booting a root drive
     * @param drive  a root drive (Firecracker with a disk image in UKERNEL_ROOTFS)
     */
    record Boot(Path kernel, Optional<Path> initrd, Optional<Path> drive) {}

    private Boot image(Path app, String name, String bundleSha, boolean firecracker) throws UserError, Exception {
        Path dist = app.resolve("dist");
        String rootfs = System.getenv(ENV_ROOTFS);
        String kernelEnv = System.getenv(io.ukernel.vmm.image.GuestKernel.ENV);
        if (rootfs != null && !rootfs.isBlank()) {
            Path img = Path.of(rootfs).toAbsolutePath();
            if (!Files.isRegularFile(img)) {
                throw new UserError(ENV_ROOTFS + "=" + rootfs + " does not exist");
            }
            Optional<ImageInfo> info = ImageInfo.read(img);
            if (info.isPresent() && !info.get().app().equals(name)) {
                throw new UserError(InitCommand.display(img) + " (" + ENV_ROOTFS + ") is an image of app "
                        + info.get().app() + ", not " + name + ": unset " + ENV_ROOTFS + " or pack this app with "
                        + "`ukernel pack`");
            }
            Path kernel = kernelEnv != null && !kernelEnv.isBlank() ? Path.of(kernelEnv)
                    : dist.resolve(name + (firecracker ? ".vmlinux" : ".vmlinuz"));
            if (!Files.isRegularFile(kernel)) {
                throw new UserError("no guest kernel: set " + io.ukernel.vmm.image.GuestKernel.ENV + " (with "
                        + ENV_ROOTFS + "), or run `ukernel pack`");
            }
            if (info.isEmpty() && !firecracker) {
                throw new UserError(InitCommand.display(img) + " (" + ENV_ROOTFS + ") is not a ukernel image; QEMU "
                        + "boots images made by `ukernel pack`");
            }
            return info.isPresent() ? new Boot(kernel, Optional.of(img), Optional.empty())
                    : new Boot(kernel, Optional.empty(), Optional.of(img));
        }
        String why = PackCommand.staleness(app, name, bundleSha, firecracker);
        if (why != null) {
            err.println("ukernel: packing the image (" + why + ")...");
            err.flush();
            var r = PackCommand.pack(app, null, ImageBuilder.Compression.NONE, firecracker, null);
            err.println("ukernel: " + PackCommand.summaryLine(r));
            r.warnings().forEach(w -> err.println("ukernel: warning: " + w));
            err.flush();
        }
        Path img = ImageBuilder.imagePath(dist, name);
        Path kernel;
        if (firecracker) {
            kernel = dist.resolve(name + ".vmlinux");
        } else {
            kernel = Files.isRegularFile(dist.resolve(name + ".vmlinuz")) ? dist.resolve(name + ".vmlinuz")
                    : dist.resolve(name + ".vmlinux");
        }
        if (kernelEnv != null && !kernelEnv.isBlank() && !firecracker) {
            kernel = Path.of(kernelEnv);
        }
        if (!Files.isRegularFile(kernel)) {
            throw new UserError("the guest kernel " + InitCommand.display(kernel) + " is missing: run `ukernel pack`"
                    + " (with --kernel PATH or " + io.ukernel.vmm.image.GuestKernel.ENV + ")");
        }
        return new Boot(kernel, Optional.of(img), Optional.empty());
    }

    /** {@code 512}, {@code 512M}, {@code 1G} → MiB. */
    static int memoryMib(String text) throws UserError {
        String t = text.strip().toUpperCase(java.util.Locale.ROOT);
        try {
            if (t.endsWith("G") || t.endsWith("GIB")) {
                return Integer.parseInt(t.replaceAll("G(IB)?$", "")) * 1024;
            }
            return Integer.parseInt(t.replaceAll("M(IB)?$", ""));
        } catch (NumberFormatException e) {
            throw new UserError("--memory takes MiB (512, 512M) or GiB (1G), got \"" + text + "\"");
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // a leftover temporary directory is harmless
        }
    }

    /**
     * The host's copy of the guest console: each line to the terminal and to this run's own
     * {@code logs/<instance>/console.log} ({@link InstanceLog}: {@code logs/console.log} links to it, rotated by
     * size, as on the process platform), flushed per line.
     */
    static final class ConsoleLog implements AutoCloseable {
        private final InstanceLog instance;
        private final OutputStream file;
        private final PrintStream terminal;

        private ConsoleLog(InstanceLog instance, PrintStream terminal) {
            this.instance = instance;
            this.file = instance.stream();
            this.terminal = terminal;
        }

        static ConsoleLog open(Path app, String name, PrintStream terminal) throws IOException {
            return new ConsoleLog(InstanceLog.create(app, name, System.currentTimeMillis()), terminal);
        }

        synchronized void line(String line) {
            try {
                file.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                file.flush();
            } catch (IOException ignored) {
                // the terminal still gets it
            }
            if (terminal != null) {
                terminal.println(line);
                terminal.flush();
            }
        }

        @Override
        public synchronized void close() throws IOException {
            instance.close();
        }
    }
}
