package io.ukernel.vmm.firecracker;

import io.ukernel.vmm.Binaries;
import io.ukernel.vmm.ControlledVm;
import io.ukernel.vmm.BootArgs;
import io.ukernel.vmm.VmSpec;
import io.ukernel.vmm.VmmException;
import io.ukernel.vmm.VmmProcess;
import io.ukernel.vmm.firecracker.request.Actions;
import io.ukernel.vmm.firecracker.request.BootSource;
import io.ukernel.vmm.firecracker.request.Drive;
import io.ukernel.vmm.firecracker.request.Logger;
import io.ukernel.vmm.firecracker.request.MachineConfig;
import io.ukernel.vmm.firecracker.request.NetworkInterface;
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
public final class FirecrackerBackend implements VmmBackend {
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
        Path binary = locate();
        checkElf(spec.kernel());
        if (!spec.ports().isEmpty() && tap().isEmpty()) {
            throw new VmmException("Firecracker reaches the guest's network through a tap device: create one (see "
                    + "docs/microvm.md, \"Networking\") and set " + ENV_TAP + "=NAME; -p is QEMU's user-mode "
                    + "forwarding");
        }
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
        try {
            awaitSocket(proc, socket, stderr);
            try (FirecrackerClient api = FirecrackerClient.connect(socket)) {
                configure(api, spec, log);
                api.put(Actions.instanceStart());
            }
        } catch (VmmException | IOException | RuntimeException e) {
            proc.kill();
            try {
                proc.waitFor(5, TimeUnit.SECONDS);
                Files.deleteIfExists(socket);
            } catch (IOException | InterruptedException ignored) {
                // best effort
            }
            if (e instanceof VmmException v) {
                throw v;
            }
            throw new VmmException("Firecracker's API failed: " + e.getMessage() + tail(log), e);
        }
        return new FirecrackerVm(proc, socket, "Firecracker " + spec.cpus() + " vCPU, " + spec.memoryMib() + " MiB"
                + tap().map(t -> ", eth0 on " + t).orElse(""));
    }

    /** The configuration calls, in Firecracker's documented order. */
    void configure(FirecrackerClient api, VmSpec spec, Path log) throws VmmException, IOException {
        api.put(new Logger(log.toString(), "Info", true));
        api.put(new MachineConfig(spec.cpus(), spec.memoryMib()));
        String args = BootArgs.firecracker(spec.params());
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
