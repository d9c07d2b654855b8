package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The microVM platform end to end under real QEMU ({@code -M microvm}; TCG here): pack an app, boot it, read the
 * kernel's banner and heartbeats from inside the guest in {@code logs/console.log}, publish a guest port and
 * round-trip bytes from the host, list and stop the VM, and get the app's exit status back. Two boots in all
 * (about 10 s each under emulation). Skipped when QEMU or a guest kernel is missing ({@code .ci/run} installs
 * both).
 */
class MicrovmEndToEndTest {
    /** The run registry the subprocesses share (ps and stop find the run there), apart from the user's. */
    static final Path RUN_DIR = tempDir();

    private static Path tempDir() {
        try {
            Path d = Files.createTempDirectory("ukernel-run-");
            d.toFile().deleteOnExit();
            return d;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @BeforeAll
    static void requireQemuAndKernel() {
        CliTesting.useRepoAdapter();
        boolean qemu = Stream.of(System.getenv().getOrDefault("PATH", "").split(":"))
                .anyMatch(d -> Files.isExecutable(Path.of(d, "qemu-system-x86_64")));
        Assumptions.assumeTrue(qemu, "qemu-system-x86_64 is not installed");
        boolean kernel = System.getenv("UKERNEL_KERNEL") != null || listBoot().stream()
                .anyMatch(p -> p.getFileName().toString().startsWith("vmlinuz-") && Files.isReadable(p));
        Assumptions.assumeTrue(kernel, "no guest kernel (/boot/vmlinuz-* or UKERNEL_KERNEL)");
    }

    private static List<Path> listBoot() {
        try (Stream<Path> s = Files.list(Path.of("/boot"))) {
            return s.toList();
        } catch (Exception e) {
            return List.of();
        }
    }

    /** {@code ukernel ARGS} in its own JVM, as the launcher runs it; output to {@code terminal}. */
    static Process ukernel(Path cwd, Path terminal, Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                "-D" + AdapterResources.PROPERTY + "=" + System.getProperty(AdapterResources.PROPERTY),
                "io.ukernel.cli.Main"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true)
                .redirectOutput(terminal.toFile());
        pb.environment().put(RunRegistry.ENV, RUN_DIR.toString());
        pb.environment().putAll(env);
        return pb.start();
    }

    static String finish(Process p, Path terminal, int seconds) throws Exception {
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroy();
            p.waitFor(30, TimeUnit.SECONDS);
            throw new AssertionError("ukernel did not end within " + seconds + " s:\n" + Files.readString(terminal));
        }
        return Files.readString(terminal);
    }

    static String awaitLog(Path log, String needle, int seconds, Process p) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < end) {
            if (Files.exists(log) && Files.readString(log).contains(needle)) {
                return Files.readString(log);
            }
            if (!p.isAlive()) {
                break;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no \"" + needle + "\" in " + log + ":\n" + (Files.exists(log) ? Files.readString(log)
                : "(no log)"));
    }

    static Path copyOf(Path src, Path dst) throws Exception {
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.sorted(Comparator.naturalOrder()).toList()) {
                Path rel = src.relativize(p);
                if (!rel.toString().isEmpty() && Stream.of("build", "dist", "logs").anyMatch(d -> rel.startsWith(d))) {
                    continue;
                }
                Path t = dst.resolve(rel.toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        return dst;
    }

    @Test
    void hello_packsBootsHeartbeatsAndPowersOffWithItsStatus(@TempDir Path tmp) throws Exception {
        Path repo = Path.of(System.getProperty("ukernel.repo"));
        Path app = copyOf(repo.resolve("examples/hello"), tmp.resolve("hello"));
        Path terminal = tmp.resolve("pack.out");
        String packed = finish(ukernel(app, terminal, Map.of(), "pack"), terminal, 300);
        assertTrue(packed.contains("Packed hello: dist/hello.img"), packed);
        Path image = app.resolve("dist/hello.img");
        assertTrue(Files.size(image) < 128L << 20, "image size " + Files.size(image));

        terminal = tmp.resolve("run.out");
        Process run = ukernel(app, terminal, Map.of(), "run", "--vmm", "qemu", "-e", "HEARTBEATS=3");
        String out = finish(run, terminal, 150);
        assertEquals(0, run.exitValue(), out);
        String log = Files.readString(app.resolve("logs/console.log"));
        assertTrue(log.contains("kernel#0 INFO  ukernel 0.1.0 · ABI " + io.ukernel.abi.Abi.VERSION_MAJOR + "." + io.ukernel.abi.Abi.VERSION_MINOR
                + " · platform microvm · java 25 · pid 1"), log);
        Matcher beats = Pattern.compile("main#1 INFO  heartbeat (\\d+) ").matcher(log);
        int n = 0;
        while (beats.find()) {
            n++;
        }
        assertTrue(n >= 3, "heartbeats from the guest: " + n + "\n" + log);
        assertTrue(log.contains("app hello ended with status 0"), log);
        List<String> lines = log.lines().filter(l -> !l.isBlank()).toList();
        assertTrue(lines.stream().anyMatch(l -> l.equals("ukernel: app exited with status 0")), log);
        assertTrue(log.contains("reboot: Power down"), "the guest powered the VM off:\n" + log);
        assertTrue(out.contains("heartbeat 3"), "the console reaches the terminal too");

        // Nothing outlives its supervisor: SIGKILL of the run (no shutdown hook runs) takes the VM with it.
        terminal = tmp.resolve("killed.out");
        Process killed = ukernel(app, terminal, Map.of(), "run", "--vmm", "qemu", "-e", "HEARTBEATS=100000");
        awaitLog(terminal, "heartbeat 1 ", 150, killed);
        ProcessHandle qemu = killed.toHandle().descendants()
                .filter(h -> h.info().command().map(c -> c.endsWith("qemu-system-x86_64")).orElse(false))
                .findFirst().orElseThrow(() -> new AssertionError("no QEMU process under the run"));
        killed.destroyForcibly();
        qemu.onExit().get(120, TimeUnit.SECONDS);
        assertFalse(qemu.isAlive(), "QEMU outlived the run it belonged to");
    }

    @Test
    void tcpServer_publishedPort_roundTrips_listedByPs_stoppedByStop(@TempDir Path tmp) throws Exception {
        Path app = Files.createDirectories(tmp.resolve("tcpecho/src"));
        app = app.getParent();
        Files.writeString(app.resolve("ukernel.toml"), """
                name = "tcpecho"
                entry = "src/main.py"
                python = "3.11"

                [caps]
                grant = ["LOG", "NET"]

                [caps.net]
                # In a microVM, published ports reach the guest's eth0: bind 0.0.0.0, not 127.0.0.1.
                bind = ["0.0.0.0:*"]
                """);
        Files.writeString(app.resolve("src/main.py"), """
                import asyncio
                import os
                import signal

                import ukernel


                async def main():
                    ukernel.cap_acquire("LOG")
                    stop = asyncio.Event()
                    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

                    async def echo(reader, writer):
                        data = await reader.read(65536)
                        writer.write(b"guest says: " + data)
                        await writer.drain()
                        writer.close()

                    ukernel.info("token reversed %s" % os.environ.get("API_TOKEN", "(none)")[::-1])
                    server = await asyncio.start_server(echo, "0.0.0.0", int(os.environ["PORT"]))
                    ukernel.info("listening on 0.0.0.0:%s" % os.environ["PORT"])
                    async with server:
                        await stop.wait()
                    ukernel.info("stopped cleanly")
                    return 7
                """);
        int hostPort;
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            hostPort = s.getLocalPort();
        }
        Path terminal = tmp.resolve("run.out");
        String secret = "tok-" + Long.toHexString(System.nanoTime()) + "-s3cret";
        Process run = ukernel(app, terminal, Map.of(), "run", "--vmm", "qemu", "-p", hostPort + ":7000",
                "-e", "PORT=7000", "-e", "API_TOKEN=" + secret);
        Path log = app.resolve("logs/console.log");
        awaitLog(log, "listening on 0.0.0.0:7000", 240, run);
        assertTrue(Files.readString(log).contains("token reversed " + new StringBuilder(secret).reverse()),
                "the guest got the environment");
        assertSecretNotOnQemusCommandLine(run, secret);

        Path psOut = tmp.resolve("ps.out");
        String ps = finish(ukernel(app, psOut, Map.of(), "ps"), psOut, 60);
        assertTrue(ps.contains("tcpecho") && ps.contains("microvm (qemu)") && ps.contains("127.0.0.1:" + hostPort
                + "->7000"), ps);

        try (Socket s = new Socket("127.0.0.1", hostPort)) {
            s.setSoTimeout(20_000);
            OutputStream o = s.getOutputStream();
            o.write("ping from the host".getBytes(StandardCharsets.UTF_8));
            o.flush();
            InputStream i = s.getInputStream();
            assertEquals("guest says: ping from the host", new String(i.readAllBytes(), StandardCharsets.UTF_8));
        }

        Path stopOut = tmp.resolve("stop.out");
        Process stop = ukernel(app, stopOut, Map.of(), "stop", "tcpecho");
        String stopped = finish(stop, stopOut, 90);
        assertEquals(0, stop.exitValue(), stopped);
        String out = finish(run, terminal, 60);
        assertEquals(7, run.exitValue(), "the app's status comes back from the guest\n" + out);
        String text = Files.readString(log);
        assertTrue(text.contains("stopping: Ctrl-Alt-Del from the host"), text);
        assertTrue(text.contains("main#1 INFO  stopped cleanly"), text);
        assertTrue(text.contains("ukernel: app exited with status 7"), text);
    }

    /**
     * Every local user can read a process's command line ({@code ps}, {@code /proc/PID/cmdline}): the running QEMU's
     * must not hold the environment, in clear or encoded. The environment went through an owner-only fw_cfg file,
     * which is gone once the guest runs.
     */
    static void assertSecretNotOnQemusCommandLine(Process run, String secret) throws Exception {
        ProcessHandle qemu = run.toHandle().descendants()
                .filter(h -> h.info().command().map(c -> c.endsWith("qemu-system-x86_64")).orElse(false))
                .findFirst().orElseThrow(() -> new AssertionError("no QEMU process under the run"));
        byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(qemu.pid()), "cmdline"));
        String cmdline = new String(raw, StandardCharsets.UTF_8).replace('\0', ' ');
        String encoded = java.util.Base64.getUrlEncoder().withoutPadding()
                .encodeToString(("API_TOKEN=" + secret).getBytes(StandardCharsets.UTF_8));
        assertTrue(!cmdline.contains(secret) && !cmdline.contains("API_TOKEN")
                && !cmdline.contains(encoded.substring(0, 12)), cmdline);
        Matcher fw = Pattern.compile("-fw_cfg name=opt/io\\.ukernel/env,file=(\\S+)").matcher(cmdline);
        assertTrue(fw.find(), cmdline);
        Path file = Path.of(fw.group(1));
        assertTrue(!Files.exists(file), "the fw_cfg file is deleted once the guest runs: " + file);
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(file.getParent())), "the run's directory is owner-only");
    }
}
