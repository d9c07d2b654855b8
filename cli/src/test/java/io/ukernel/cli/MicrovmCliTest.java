package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.vmm.image.ImageInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The microVM commands' bad input, each a clear one-line error and no VM: a missing kernel, an image built for
 * another app, QEMU not installed, options that need a VM. No QEMU boots here.
 */
class MicrovmCliTest {
    @BeforeAll
    static void adapter() {
        CliTesting.useRepoAdapter();
    }

    private static Path app(Path dir, String name) throws Exception {
        Files.createDirectories(dir.resolve("src"));
        Files.writeString(dir.resolve("ukernel.toml"), "name = \"" + name + "\"\nentry = \"src/main.py\"\n"
                + "python = \"3.11\"\n\n[caps]\ngrant = [\"LOG\"]\n");
        Files.writeString(dir.resolve("src/main.py"), "async def main():\n    return 0\n");
        return dir;
    }

    private static String run(Path cwd, Map<String, String> env, String... args) throws Exception {
        Path out = cwd.resolveSibling(cwd.getFileName() + ".out");
        Process p = MicrovmEndToEndTest.ukernel(cwd, out, env, args);
        String text = MicrovmEndToEndTest.finish(p, out, 120);
        return p.exitValue() + " " + text;
    }

    @Test
    void pack_missingKernel_saysWhichAndWhatToDo(@TempDir Path tmp) throws Exception {
        Path a = app(tmp.resolve("a"), "a");
        String r = run(a, Map.of("UKERNEL_KERNEL", tmp.resolve("no-such-vmlinuz").toString()), "pack");
        assertTrue(r.startsWith("1 "), r);
        assertTrue(r.contains("ukernel: guest kernel UKERNEL_KERNEL=" + tmp.resolve("no-such-vmlinuz")
                + " does not exist"), r);
        r = run(a, Map.of(), "pack", "--kernel", a.resolve("ukernel.toml").toString());
        assertTrue(r.contains("is neither a bzImage nor an ELF vmlinux"), r);
    }

    @Test
    void run_qemuNotInstalled_isAClearError(@TempDir Path tmp) throws Exception {
        Path a = app(tmp.resolve("a"), "a");
        String r = run(a, Map.of("PATH", tmp.resolve("empty").toString()), "run", "--vmm", "qemu");
        assertTrue(r.startsWith("1 "), r);
        assertTrue(r.contains("QEMU is not installed (no qemu-system-x86_64 on PATH): install it (Debian/Ubuntu: "
                + "`apt-get install qemu-system-x86`"), r);
        r = run(a, Map.of("UKERNEL_QEMU", "/opt/nowhere/qemu"), "run", "--vmm", "qemu");
        assertTrue(r.contains("UKERNEL_QEMU=/opt/nowhere/qemu is not an executable file"), r);
        r = run(a, Map.of("PATH", tmp.resolve("empty").toString()), "run", "--real");
        assertTrue(r.contains("Firecracker is not installed"), r);
    }

    @Test
    void run_badResourceOrEnvOptions_areRefusedBeforeQemuIsLookedForOrTheImagePacked(@TempDir Path tmp)
            throws Exception {
        Path a = app(tmp.resolve("a"), "a");
        Map<String, String> noQemu = Map.of("PATH", tmp.resolve("empty").toString());
        String r = run(a, noQemu, "run", "--vmm", "qemu", "--memory", "12x");
        assertTrue(r.startsWith("1 ") && r.contains("--memory takes MiB (512, 512M) or GiB (1G), got \"12x\""), r);
        r = run(a, noQemu, "run", "--vmm", "qemu", "--memory", "64");
        assertTrue(r.contains("--memory must be at least 128 MiB"), r);
        r = run(a, noQemu, "run", "--vmm", "qemu", "--cpus", "0");
        assertTrue(r.contains("--cpus must be 1..32, got 0"), r);
        r = run(a, noQemu, "run", "--vmm", "qemu", "-e", "UKERNEL_TEST_SURELY_UNSET");
        assertTrue(r.contains("UKERNEL_TEST_SURELY_UNSET is not set in this environment"), r);
        assertTrue(!r.contains("QEMU is not installed") && !Files.exists(a.resolve("dist")), r);
    }

    @Test
    void pack_interrupted_leavesNoJlinkRunningAndNothingHalfLinkedInTheCache(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(System.getenv("UKERNEL_KERNEL") != null || hasBootKernel(),
                "no guest kernel (/boot/vmlinuz-* or UKERNEL_KERNEL)");
        Path a = app(tmp.resolve("a"), "a");
        Path cache = tmp.resolve("cache");
        Path out = tmp.resolve("pack.out");
        Process pack = MicrovmEndToEndTest.ukernel(a, out, Map.of("XDG_CACHE_HOME", cache.toString()), "pack");
        ProcessHandle jlink = null;
        while (jlink == null && pack.isAlive()) {       // an empty cache: this pack must link a runtime
            jlink = pack.toHandle().descendants()
                    .filter(h -> h.info().command().map(c -> c.endsWith("/jlink")).orElse(false))
                    .findFirst().orElse(null);
            Thread.sleep(20);
        }
        assertTrue(jlink != null, "pack ended before jlink was seen:\n" + Files.readString(out));
        new ProcessBuilder("kill", "-INT", Long.toString(pack.pid())).start().waitFor();   // Ctrl-C
        assertTrue(pack.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), Files.readString(out));
        jlink.onExit().get(120, java.util.concurrent.TimeUnit.SECONDS);
        assertTrue(!jlink.isAlive(), "jlink outlived the interrupted pack");
        try (var left = Files.newDirectoryStream(cache.resolve("ukernel"), "jre-*")) {
            assertEquals(List.of(), java.util.stream.StreamSupport.stream(left.spliterator(), false).toList(),
                    "a half-linked runtime stayed in the cache");
        }
    }

    private static boolean hasBootKernel() {
        try (var s = Files.list(Path.of("/boot"))) {
            return s.anyMatch(p -> p.getFileName().toString().startsWith("vmlinuz-") && Files.isReadable(p));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    @Test
    void run_imageOfAnotherApp_isRefused(@TempDir Path tmp) throws Exception {
        Path a = app(tmp.resolve("a"), "alpha");
        Path other = tmp.resolve("beta.img");
        writeImage(other, "beta");
        Path fakeQemu = Files.writeString(tmp.resolve("qemu-system-x86_64"), "#!/bin/sh\nexit 1\n");
        fakeQemu.toFile().setExecutable(true);
        String r = run(a, Map.of("UKERNEL_ROOTFS", other.toString(), "UKERNEL_QEMU", fakeQemu.toString()),
                "run", "--vmm", "qemu");
        assertTrue(r.startsWith("1 "), r);
        assertTrue(r.contains("(UKERNEL_ROOTFS) is an image of app beta, not alpha: unset UKERNEL_ROOTFS or pack this "
                + "app with `ukernel pack`"), r);
    }

    /** A minimal cpio whose first file is the metadata of app {@code name}. */
    private static void writeImage(Path file, String name) throws Exception {
        ImageInfo info = new ImageInfo(name, "0".repeat(64), "0.1.0", "0".repeat(64), "/ukernel/python/bin/python3",
                "3.11.7", "", List.of());
        byte[] data = info.toBytes();
        byte[] n = (ImageInfo.PATH + "\0").getBytes(StandardCharsets.US_ASCII);
        StringBuilder h = new StringBuilder("070701");
        for (long v : new long[] {1, 0100644, 0, 0, 1, 0, data.length, 0, 0, 0, 0, n.length, 0}) {
            h.append(String.format("%08x", v));
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.writeBytes(h.toString().getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(n);
        while (out.size() % 4 != 0) {
            out.write(0);
        }
        out.writeBytes(data);
        while (out.size() % 4 != 0) {
            out.write(0);
        }
        Files.write(file, out.toByteArray());
    }

    /** In-process, with the CLI's own error handling (one line, exit 1 for user errors). */
    private static CliTesting.Run cli(String... args) {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        int exit = UkernelCommand.commandLine().setOut(new java.io.PrintWriter(out, true))
                .setErr(new java.io.PrintWriter(err, true)).execute(args);
        return new CliTesting.Run(exit, out.toString(), err.toString());
    }

    @Test
    void options_thatNeedAVm_orAreMistyped_areUsageErrors(@TempDir Path tmp) throws Exception {
        Path a = app(tmp.resolve("a"), "a");
        CliTesting.Run r = cli("run", a.toString(), "-p", "8080:80");
        assertTrue(r.err().contains("-p publishes a microVM's port: add --vmm qemu"), r.err());
        r = cli("run", a.toString(), "--vmm", "xen");
        assertTrue(r.err().contains("--vmm must be qemu or firecracker, got \"xen\""), r.err());
        r = cli("run", a.toString(), "--no-snapshot");
        assertTrue(r.err().contains("--no-snapshot is for a microVM run: add --vmm qemu"), r.err());
        r = cli("pack", a.toString(), "--vmm", "firecracker");
        assertTrue(r.err().contains("--vmm chooses the VMM a snapshot is made with: add --snapshot"), r.err());
        r = cli("pack", a.toString(), "--snapshot", "--vmm", "xen");
        assertTrue(r.err().contains("--vmm must be qemu or firecracker, got \"xen\""), r.err());
        r = cli("pack", a.toString(), "--snapshot", "--oci");
        assertTrue(r.err().contains("--snapshot saves a microVM; an OCI image has none"), r.err());
        r = cli("pack", a.toString(), "--compress", "zstd");
        assertTrue(r.err().contains("--compress must be gzip or none"), r.err());
        r = cli("stop", "no-such-app-" + ProcessHandle.current().pid());
        assertEquals(1, r.exit(), r.err());
        assertTrue(r.err().contains("no running app named no-such-app-"), r.err());
        assertEquals(1024, MicrovmRun.memoryMib("1G"));
        assertEquals(384, MicrovmRun.memoryMib("384M"));
        assertThrows(UserError.class, () -> MicrovmRun.memoryMib("lots"));
    }
}
