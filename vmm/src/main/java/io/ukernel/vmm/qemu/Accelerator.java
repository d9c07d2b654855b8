package io.ukernel.vmm.qemu;

import io.ukernel.vmm.image.TinyInitrd;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Which accelerator QEMU uses: KVM when it actually runs guests, else TCG (software emulation). {@code /dev/kvm}
 * existing is not enough — on some hosts KVM opens and even runs real-mode code but never gets a Linux guest to
 * user space, or QEMU aborts setting the host CPU's MSRs — so the first run of a host boot tries: the guest
 * kernel itself is booted under KVM, with the run's CPU model, on a tiny initramfs whose init prints a marker and
 * powers off ({@link TinyInitrd}). The marker arriving within {@link #PROBE_MS} ms proves KVM works. The answer
 * is cached per host boot ({@code /proc/sys/kernel/random/boot_id}), QEMU and kernel. {@code UKERNEL_ACCEL=kvm|tcg}
 * skips the probe.
 *
 * @param name   {@code kvm} or {@code tcg}
 * @param reason why, for the console
 */
public record Accelerator(String name, String reason) {
    /** Environment variable forcing the accelerator. */
    public static final String ENV = "UKERNEL_ACCEL";
    static final int PROBE_MS = 5000;
    static final String MARKER = "ukernel-kvm-probe-ok";

    /** Whether this is KVM. */
    public boolean kvm() {
        return name.equals("kvm");
    }

    /** Decides for {@code kernel} under {@code qemu}, probing at most once per host boot. */
    public static Accelerator detect(Path qemu, Path kernel, Map<String, String> env, Path cacheDir) {
        String forced = env.get(ENV);
        if (forced != null && (forced.equals("kvm") || forced.equals("tcg"))) {
            return new Accelerator(forced, ENV + "=" + forced);
        }
        Path kvm = Path.of("/dev/kvm");
        if (!Files.exists(kvm)) {
            return new Accelerator("tcg", "no /dev/kvm");
        }
        if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
            return new Accelerator("tcg", "/dev/kvm is not accessible to this user (add it to the kvm group)");
        }
        String key = bootId() + " " + qemu + " " + kernel.toAbsolutePath();
        Path cache = cacheDir.resolve("kvm-probe");
        try {
            if (Files.isRegularFile(cache)) {
                List<String> l = Files.readAllLines(cache);
                if (l.size() == 2 && l.get(0).equals(key)) {
                    int sp = l.get(1).indexOf(' ');
                    return new Accelerator(l.get(1).substring(0, sp), l.get(1).substring(sp + 1));
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // probe again
        }
        Accelerator a = probe(qemu, kernel, cacheDir);
        try {
            Files.createDirectories(cacheDir);
            Files.write(cache, List.of(key, a.name + " " + a.reason));
        } catch (IOException ignored) {
            // not cached: probed again next time
        }
        return a;
    }

    private static Accelerator probe(Path qemu, Path kernel, Path cacheDir) {
        Process p = null;
        try {
            Files.createDirectories(cacheDir);
            Path initrd = cacheDir.resolve("kvm-probe.cpio");
            Files.write(initrd, TinyInitrd.printAndPowerOff(MARKER));
            p = new ProcessBuilder(qemu.toString(), "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", "128",
                    "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
                    "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                    "-append", "console=ttyS0 quiet panic=-1")
                    .redirectErrorStream(true).start();
            Process proc = p;
            CompletableFuture<String> seen = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                String last = "";
                try (BufferedReader in = new BufferedReader(new InputStreamReader(proc.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        if (line.contains(MARKER)) {
                            seen.complete(null);
                            return;
                        }
                        if (!line.isBlank()) {
                            last = line.strip();
                        }
                    }
                } catch (IOException ignored) {
                    // ended
                }
                seen.complete(last.isEmpty() ? "QEMU exited" : last);
            });
            String failure;
            try {
                failure = seen.get(PROBE_MS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                failure = "no guest output within " + PROBE_MS + " ms";
            }
            return failure == null ? new Accelerator("kvm", "KVM runs the guest here")
                    : new Accelerator("tcg", "/dev/kvm does not run this guest: " + failure);
        } catch (IOException | ExecutionException e) {
            return new Accelerator("tcg", "KVM probe failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Accelerator("tcg", "KVM probe interrupted");
        } finally {
            if (p != null) {
                p.destroyForcibly();
            }
        }
    }

    private static String bootId() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/random/boot_id"), StandardCharsets.US_ASCII).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
