package io.ukernel.vmm.firecracker;

import io.ukernel.vmm.Binaries;
import io.ukernel.vmm.ControlledVm;
import io.ukernel.vmm.BootArgs;
import io.ukernel.vmm.GuestParams;
import io.ukernel.vmm.RestoreRecord;
import io.ukernel.vmm.SnapshotKey;
import io.ukernel.vmm.VmSpec;
import io.ukernel.vmm.VmmException;
import io.ukernel.vmm.VmmProcess;
import io.ukernel.vmm.firecracker.request.Actions;
import io.ukernel.vmm.firecracker.request.BootSource;
import io.ukernel.vmm.firecracker.request.Drive;
import io.ukernel.vmm.firecracker.request.Logger;
import io.ukernel.vmm.firecracker.request.MachineConfig;
import io.ukernel.vmm.firecracker.request.NetworkInterface;
import io.ukernel.vmm.firecracker.request.SnapshotCreate;
import io.ukernel.vmm.firecracker.request.SnapshotLoad;
import io.ukernel.vmm.firecracker.request.Vm;
import io.ukernel.vmm.spi.ConsoleListener;
import io.ukernel.vmm.spi.RunningVm;
import io.ukernel.vmm.spi.VmmBackend;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Boots images with Firecracker ({@code ukernel run --real} / {@code --vmm firecracker}): starts
 * {@code firecracker --api-sock SOCK} (removing a stale socket first), waits for the socket, configures the VM
 * over the API — {@code PUT /logger}, {@code /machine-config}, {@code /boot-source} (the ELF vmlinux, the image
 * as initrd, {@code console=ttyS0}), {@code /drives/rootfs} when booting a disk image, {@code
 * /network-interfaces/eth0} when asked — then {@code PUT /actions InstanceStart}. The serial console is
 * Firecracker's stdout. Stopping is {@code SendCtrlAltDel} (the guest stops its app and reboots, which ends
 * Firecracker), then a signal if it lingers.
 *
 * <p>Environment: {@value #ENV_BINARY} (the binary, else {@code firecracker} on PATH), {@value #ENV_TAP} (a tap
 * device for the guest's {@code eth0}).
 */
public final class FirecrackerBackend implements VmmBackend, io.ukernel.vmm.spi.Snapshots {
    /** Environment variable naming the Firecracker binary. */
    public static final String ENV_BINARY = "UKERNEL_FIRECRACKER";
    /** Environment variable naming a host tap device for the guest's network. */
    public static final String ENV_TAP = "UKERNEL_FC_TAP";

    private final Map<String, String> env;
    private final Duration socketTimeout;

    /**
     * @param env           the environment
     * @param socketTimeout how long to wait for the API socket to appear
     */
    public FirecrackerBackend(Map<String, String> env, Duration socketTimeout) {
        this.env = Map.copyOf(env);
        this.socketTimeout = socketTimeout;
    }

    @Override
    public String name() {
        return "firecracker";
    }

    /**
     * The binary: {@code $UKERNEL_FIRECRACKER}, else {@code firecracker} on PATH.
     *
     * @throws VmmException saying where to get it
     */
    public Path locate() throws VmmException {
        Optional<Path> found = Binaries.find(env, ENV_BINARY, "firecracker");
        if (found.isPresent()) {
            return found.get();
        }
        throw new VmmException("Firecracker is not installed (no firecracker on PATH, " + ENV_BINARY + " unset): "
                + "download a release from https://github.com/firecracker-microvm/firecracker/releases and set "
                + ENV_BINARY + "; it needs a working /dev/kvm. Without KVM, use --vmm qemu");
    }

    @Override
    public RunningVm boot(VmSpec spec, ConsoleListener console) throws VmmException {
        checkBoot(spec);
        Launched l = launch(spec, console);
        try (FirecrackerClient api = FirecrackerClient.connect(l.socket())) {
            configure(api, spec, l.log());
            api.put(Actions.instanceStart());
        } catch (VmmException | IOException | RuntimeException e) {
            throw failed(l, e);
        }
        return new FirecrackerVm(l.proc(), l.socket(), "Firecracker " + spec.cpus() + " vCPU, " + spec.memoryMib()
                + " MiB" + tap().map(t -> ", eth0 on " + t).orElse(""));
    }

    private void checkBoot(VmSpec spec) throws VmmException {
        locate();
        checkElf(spec.kernel());
        if (!spec.ports().isEmpty() && tap().isEmpty()) {
            throw new VmmException("Firecracker reaches the guest's network through a tap device: create one (see "
                    + "docs/microvm.md, \"Networking\") and set " + ENV_TAP + "=NAME; -p is QEMU's user-mode "
                    + "forwarding");
        }
    }

    /** A started Firecracker whose API socket answers. */
    private record Launched(VmmProcess proc, Path socket, Path log) {}

    private Launched launch(VmSpec spec, ConsoleListener console) throws VmmException {
        Path binary = locate();
        Path socket = spec.runDir().resolve("firecracker.sock");
        Path log = spec.runDir().resolve("firecracker.log");
        try {
            Files.createDirectories(spec.runDir());
            // Owner-only: the API socket carries the boot arguments, the app's environment among them.
            Files.setPosixFilePermissions(spec.runDir(), PosixFilePermissions.fromString("rwx------"));
            removeStale(socket);
            Files.deleteIfExists(log);
            Files.createFile(log);
        } catch (IOException e) {
            throw new VmmException("cannot prepare " + spec.runDir() + ": " + e.getMessage(), e);
        }
        Deque<String> stderr = new ArrayDeque<>();
        ConsoleListener tee = new ConsoleListener() {
            @Override
            public void guest(String line) {
                console.guest(line);
            }

            @Override
            public void vmm(String line) {
                synchronized (stderr) {
                    stderr.addLast(line);
                    if (stderr.size() > 5) {
                        stderr.removeFirst();
                    }
                }
                console.vmm(line);
            }
        };
        VmmProcess proc;
        try {
            proc = VmmProcess.start(List.of(binary.toString(), "--api-sock", socket.toString(), "--id",
                    vmId(spec.name())), tee);
        } catch (IOException e) {
            throw new VmmException("cannot start " + binary + ": " + e.getMessage(), e);
        }
        Launched l = new Launched(proc, socket, log);
        try {
            awaitSocket(proc, socket, stderr);
        } catch (VmmException e) {
            throw failed(l, e);
        }
        return l;
    }

    /** Ends a Firecracker whose setup failed, removes its socket, and says why. */
    private static VmmException failed(Launched l, Exception e) {
        l.proc().kill();
        try {
            l.proc().waitFor(5, TimeUnit.SECONDS);
            Files.deleteIfExists(l.socket());
        } catch (IOException | InterruptedException ignored) {
            // best effort
        }
        if (e instanceof VmmException v) {
            return v;
        }
        return new VmmException("Firecracker's API failed: " + e.getMessage() + tail(l.log()), e);
    }

    // ---- snapshots: PATCH /vm Paused + PUT /snapshot/create; PUT /snapshot/load on a fresh process ----

    /** {@code dist/NAME.fc.vmstate}: the saved vCPU and device state. */
    public static Path stateFile(Path dist, String name) {
        return dist.resolve(name + ".fc.vmstate");
    }

    /** {@code dist/NAME.fc.mem}: the saved guest memory. */
    public static Path memoryFile(Path dist, String name) {
        return dist.resolve(name + ".fc.mem");
    }

    /** {@code dist/NAME.fc.snap.properties}: the {@link SnapshotKey}. */
    public static Path keyFile(Path dist, String name) {
        return dist.resolve(name + ".fc.snap.properties");
    }

    @Override
    public Path snapshotFile(Path dist, String name) {
        return stateFile(dist, name);
    }

    /** The parameters of the boot a snapshot is made of: no environment (it would be saved), the tap if any. */
    private static GuestParams snapshotParams(VmSpec spec) {
        return new GuestParams(Map.of(), GuestParams.defaults().graceMs(), "text", false, spec.params().net(),
                GuestParams.Halt.REBOOT, false);
    }

    /** The machine a snapshot was saved from, for its key: what {@code /snapshot/load} cannot change. */
    private String machine(VmSpec spec) {
        return "vcpu=" + spec.cpus() + " mem=" + spec.memoryMib() + "MiB net=" + (tap().isPresent() ? "tap" : "none")
                + " args=" + BootArgs.firecracker(snapshotParams(spec)) + " " + RestoreRecord.SNAPSHOT_WORD;
    }

    /** {@code firecracker --version}'s first line. */
    String version() throws VmmException {
        Path binary = locate();
        try {
            Process p = new ProcessBuilder(binary.toString(), "--version").redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            p.waitFor();
            return out.lines().findFirst().orElse("").strip();
        } catch (IOException e) {
            throw new VmmException("cannot run " + binary + " --version: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmmException("interrupted");
        }
    }

    /**
     * Boots {@code spec}'s image with {@value RestoreRecord#SNAPSHOT_WORD} and no environment, waits for the
     * guest's {@link RestoreRecord#READY_LINE}, pauses the VM ({@code PATCH /vm}), creates a full snapshot
     * ({@code PUT /snapshot/create}: state and memory, under temporary names renamed when complete), ends
     * Firecracker and writes the key.
     */
    @Override
    public Path snapshot(VmSpec spec, Path dist, ConsoleListener console, long timeoutSeconds) throws VmmException {
        checkBoot(spec);
        CountDownLatch ready = new CountDownLatch(1);
        ConsoleListener watch = new ConsoleListener() {
            @Override
            public void guest(String line) {
                if (line.strip().equals(RestoreRecord.READY_LINE)) {
                    ready.countDown();
                }
                console.guest(line);
            }

            @Override
            public void vmm(String line) {
                console.vmm(line);
            }
        };
        VmSpec s = new VmSpec(spec.name(), spec.kernel(), spec.initrd(), spec.rootDrive(), spec.cpus(),
                spec.memoryMib(), List.of(), snapshotParams(spec), spec.runDir());
        String name = spec.name();
        Path state = stateFile(dist, name);
        Path mem = memoryFile(dist, name);
        Path key = keyFile(dist, name);
        String tmpSuffix = ".tmp-" + ProcessHandle.current().pid();
        Path stateTmp = dist.resolve("." + state.getFileName() + tmpSuffix);
        Path memTmp = dist.resolve("." + mem.getFileName() + tmpSuffix);
        Launched l = launch(s, watch);
        try {
            Map<String, String> k = SnapshotKey.of(spec.initrd().or(spec::rootDrive).orElseThrow(), spec.kernel(),
                    "Firecracker", version(), machine(s));
            try (FirecrackerClient api = FirecrackerClient.connect(l.socket())) {
                configure(api, s, l.log(), " " + RestoreRecord.SNAPSHOT_WORD);
                api.put(Actions.instanceStart());
                boolean reached = false;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
                while (!reached && l.proc().alive() && System.nanoTime() < deadline) {
                    reached = ready.await(100, TimeUnit.MILLISECONDS);
                }
                if (!reached) {
                    throw new VmmException(l.proc().alive() ? "the guest did not reach its snapshot point within "
                            + timeoutSeconds + " s" : "the VM ended before its snapshot point (see the console above)");
                }
                for (Path p : List.of(key, state, mem, stateTmp, memTmp)) {
                    Files.deleteIfExists(p);
                }
                api.put(Vm.paused());
                api.put(new SnapshotCreate(stateTmp.toAbsolutePath().toString(), memTmp.toAbsolutePath().toString()));
            }
            l.proc().kill();
            l.proc().waitFor(10, TimeUnit.SECONDS);
            for (Path p : List.of(stateTmp, memTmp)) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
            }
            Files.move(memTmp, mem, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            Files.move(stateTmp, state, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            SnapshotKey.write(key, k, List.of(state, mem), spec.initrd().or(spec::rootDrive).orElseThrow(),
                    spec.kernel());
            return state;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw failed(l, new VmmException("interrupted while making the snapshot"));
        } catch (VmmException | IOException | RuntimeException e) {
            throw failed(l, e);
        } finally {
            l.proc().kill();
            for (Path p : List.of(stateTmp, memTmp)) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // a leftover temporary file is replaced by the next snapshot
                }
            }
        }
    }

    @Override
    public Optional<String> snapshotMismatch(VmSpec spec, Path dist) throws VmmException {
        String name = spec.name();
        try {
            return SnapshotKey.check(keyFile(dist, name), SnapshotKey.expected(keyFile(dist, name),
                    spec.initrd().or(spec::rootDrive).orElseThrow(), spec.kernel(), "Firecracker", version(),
                    machine(spec)),
                    List.of(stateFile(dist, name), memoryFile(dist, name)));
        } catch (IOException e) {
            return Optional.of("it cannot be read: " + e.getMessage());
        }
    }

    /**
     * A fresh Firecracker: {@code PUT /logger}, then {@code PUT /snapshot/load} (resumed at once, the run's tap
     * behind {@code eth0}), then the {@link RestoreRecord} on the guest's console input (Firecracker's stdin).
     */
    @Override
    public RunningVm restore(VmSpec spec, Path dist, ConsoleListener console) throws VmmException {
        checkBoot(spec);
        Launched l = launch(spec, console);
        try (FirecrackerClient api = FirecrackerClient.connect(l.socket())) {
            api.put(new Logger(l.log().toString(), "Info", true));
            api.put(new SnapshotLoad(stateFile(dist, spec.name()).toAbsolutePath().toString(),
                    memoryFile(dist, spec.name()).toAbsolutePath().toString(), true, tap()));
            GuestParams p = spec.params();
            RestoreRecord r = RestoreRecord.fresh(new GuestParams(p.env(), p.graceMs(), p.logFormat(), p.debug(),
                    p.net(), GuestParams.Halt.REBOOT, p.noSandbox()), new java.security.SecureRandom(),
                    !"1".equals(env.get(RestoreRecord.ENV_INSECURE_NO_RESEED)));
            java.io.OutputStream in = l.proc().process().getOutputStream();
            in.write(r.toLine().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            in.flush();
        } catch (VmmException | IOException | RuntimeException e) {
            throw failed(l, e);
        }
        return new FirecrackerVm(l.proc(), l.socket(), "Firecracker " + spec.cpus() + " vCPU, " + spec.memoryMib()
                + " MiB" + tap().map(t -> ", eth0 on " + t).orElse("") + ", restored from "
                + stateFile(dist, spec.name()).getFileName());
    }

    /** The configuration calls, in Firecracker's documented order. */
    void configure(FirecrackerClient api, VmSpec spec, Path log) throws VmmException, IOException {
        configure(api, spec, log, "");
    }

    private void configure(FirecrackerClient api, VmSpec spec, Path log, String extraArgs) throws VmmException,
            IOException {
        api.put(new Logger(log.toString(), "Info", true));
        api.put(new MachineConfig(spec.cpus(), spec.memoryMib()));
        String args = BootArgs.firecracker(spec.params()) + extraArgs;
        if (spec.initrd().isEmpty()) {
            args += " root=/dev/vda ro init=/init";
        }
        api.put(new BootSource(spec.kernel().toAbsolutePath().toString(),
                spec.initrd().map(p -> p.toAbsolutePath().toString()), args));
        if (spec.rootDrive().isPresent()) {
            api.put(new Drive("rootfs", spec.rootDrive().get().toAbsolutePath().toString(), true, true));
        }
        if (tap().isPresent()) {
            api.put(new NetworkInterface("eth0", tap().get(), Optional.empty()));
        }
    }

    private Optional<String> tap() {
        String t = env.get(ENV_TAP);
        return t == null || t.isBlank() ? Optional.empty() : Optional.of(t);
    }

    private static void checkElf(Path kernel) throws VmmException {
        try (InputStream in = Files.newInputStream(kernel)) {
            byte[] m = in.readNBytes(4);
            if (m.length < 4 || m[0] != 0x7f || m[1] != 'E' || m[2] != 'L' || m[3] != 'F') {
                throw new VmmException("Firecracker boots only an uncompressed ELF vmlinux on x86_64, and "
                        + kernel + " is not one: `ukernel pack` writes dist/NAME.vmlinux");
            }
        } catch (IOException e) {
            throw new VmmException("the guest kernel " + kernel + " cannot be read: " + e.getMessage()
                    + " (run `ukernel pack`, or set UKERNEL_KERNEL)");
        }
    }

    /** Removes a socket nobody listens on (left by a crash); refuses to touch a live one. */
    static void removeStale(Path socket) throws VmmException, IOException {
        if (!Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            throw new VmmException("a Firecracker already listens on " + socket + ": stop it first (ukernel stop)");
        } catch (IOException refused) {
            Files.delete(socket);
        }
    }

    private void awaitSocket(VmmProcess proc, Path socket, Deque<String> stderr) throws VmmException {
        long deadline = System.nanoTime() + socketTimeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(socket)) {
                try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                    ch.connect(UnixDomainSocketAddress.of(socket));
                    return;
                } catch (IOException notYet) {
                    // bound but not listening yet
                }
            }
            if (!proc.alive()) {
                try {
                    proc.waitFor(1, TimeUnit.SECONDS);          // let its last stderr lines arrive
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                String why;
                synchronized (stderr) {
                    why = String.join(" / ", stderr);
                }
                throw new VmmException("Firecracker exited before opening its API socket (status "
                        + proc.process().exitValue() + ")" + (why.isEmpty() ? "" : ": " + why));
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VmmException("interrupted while waiting for Firecracker's API socket");
            }
        }
        throw new VmmException("Firecracker's API socket " + socket + " did not appear within "
                + socketTimeout.toMillis() + " ms");
    }

    /** Firecracker's {@code --id}: alphanumerics and {@code -}, at most 64. */
    static String vmId(String name) {
        String id = name.replaceAll("[^A-Za-z0-9-]", "-");
        return id.length() > 64 ? id.substring(0, 64) : id;
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return lines.isEmpty() ? "" : " (Firecracker's log: " + lines.getLast() + ")";
        } catch (IOException e) {
            return "";
        }
    }

    /** A running Firecracker: stopped through its API ({@code SendCtrlAltDel}). */
    private static final class FirecrackerVm extends ControlledVm {
        FirecrackerVm(VmmProcess proc, Path socket, String describe) {
            super(proc, socket, describe);
        }

        @Override
        protected void sendCtrlAltDel(Path socket) throws IOException, VmmException {
            try (FirecrackerClient api = FirecrackerClient.connect(socket)) {
                api.put(Actions.sendCtrlAltDel());
            }
        }

        /** SIGTERM first: Firecracker flushes its logger on it; SIGKILL when it does not exit in 2 s. */
        @Override
        public void kill() {
            proc.terminate();
            try {
                if (proc.waitFor(2, TimeUnit.SECONDS) < 0) {
                    proc.kill();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                proc.kill();
            }
        }
    }
}
