package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ukernel pack --snapshot} and {@code run --vmm qemu} restoring it, under real QEMU (TCG here): one
 * snapshot, two restores of it, one run whose machine differs from the snapshot's. The restores must not share
 * what a clone would share — the kernel's random bytes ({@code os.urandom}), Python's {@code secrets} and
 * {@code random}, a wall clock stuck at the snapshot's time — and must get the run's own environment, which is
 * never echoed onto the console, and its own published port (the second restore serves one through {@code -p}). The mismatched run says why in one line and boots cold. Skipped without QEMU or a
 * guest kernel.
 */
class MicrovmSnapshotTest {
    private static final Pattern REPORT = Pattern.compile(
            "snaptest urandom=(\\p{XDigit}+) token=(\\p{XDigit}+) random=(\\p{XDigit}+) wall_ns=(\\d+) env=(\\S+)");

    @BeforeAll
    static void requireQemuAndKernel() {
        MicrovmEndToEndTest.requireQemuAndKernel();
    }

    record Report(String urandom, String token, String random, long wallNs, String envReversed, String log) {}

    /** A run; with {@code port} > 0 it publishes the guest's 7000 there and round-trips bytes through it. */
    private static Report run(Path app, Path tmp, String name, String secret, int port, String... extra)
            throws Exception {
        Path terminal = tmp.resolve(name + ".out");
        List<String> args = new ArrayList<>(List.of("run", "--vmm", "qemu", "-e", "SNAPTEST_SECRET=" + secret));
        if (port > 0) {
            args.addAll(List.of("-p", port + ":7000", "-e", "PORT=7000"));
        }
        args.addAll(List.of(extra));
        Process p = MicrovmEndToEndTest.ukernel(app, terminal, Map.of(), args.toArray(String[]::new));
        if (port > 0) {
            MicrovmEndToEndTest.awaitLog(terminal, "snaptest listening", 240, p);
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.getOutputStream().write("ping".getBytes(StandardCharsets.UTF_8));
                s.shutdownOutput();
                assertEquals("restored guest says: ping",
                        new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            }
        }
        String out = MicrovmEndToEndTest.finish(p, terminal, 240);
        assertEquals(0, p.exitValue(), out);
        Matcher m = REPORT.matcher(out);
        assertTrue(m.find(), "no report from the app:\n" + out);
        String log = Files.readString(app.resolve("logs/console.log"));
        assertFalse(out.contains(secret) || log.contains(secret), "the environment came back on the console:\n" + out);
        return new Report(m.group(1), m.group(2), m.group(3), Long.parseLong(m.group(4)), m.group(5), out);
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }

    private static long nowNs() {
        Instant t = Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    @Test
    void twoRestoresOfOneSnapshot_freshEntropyClockAndEnv_mismatchBootsCold(@TempDir Path tmp) throws Exception {
        Path app = Files.createDirectories(tmp.resolve("snaptest"));
        Files.writeString(app.resolve("ukernel.toml"), """
                name = "snaptest"
                entry = "src/main.py"
                python = "3.11"
                [caps]
                grant = ["NET"]
                [caps.net]
                bind = ["0.0.0.0:*"]
                [restart]
                policy = "no"
                """);
        Files.writeString(Files.createDirectories(app.resolve("src")).resolve("main.py"), """
                import asyncio, os, random, secrets, time

                async def main() -> int:
                    print("snaptest urandom=%s token=%s random=%x wall_ns=%d env=%s" % (
                        os.urandom(16).hex(), secrets.token_hex(16), random.getrandbits(64), time.time_ns(),
                        os.environ.get("SNAPTEST_SECRET", "-")[::-1]), flush=True)
                    if os.environ.get("PORT"):
                        done = asyncio.Event()

                        async def one(reader, writer):
                            writer.write(b"restored guest says: " + await reader.read())
                            await writer.drain()
                            writer.close()
                            done.set()

                        server = await asyncio.start_server(one, "0.0.0.0", int(os.environ["PORT"]))
                        print("snaptest listening", flush=True)
                        async with server:
                            await done.wait()
                    return 0
                """);
        Path terminal = tmp.resolve("pack.out");
        String packed = MicrovmEndToEndTest.finish(MicrovmEndToEndTest.ukernel(app, terminal, Map.of(), "pack",
                "--snapshot", "--no-firecracker"), terminal, 600);
        assertTrue(packed.contains("Snapshot of snaptest: dist/snaptest.snap"), packed);
        assertTrue(Files.isRegularFile(app.resolve("dist/snaptest.snap.properties")), packed);

        long before1 = nowNs();
        Report a = run(app, tmp, "restore1", "first-s3cret", 0);
        long after1 = nowNs();
        long before2 = nowNs();
        Report b = run(app, tmp, "restore2", "second-s3cret", freePort());   // and a published port
        long after2 = nowNs();
        for (Report r : new Report[] {a, b}) {
            assertTrue(r.log().contains("ukernel: restoring dist/snaptest.snap"), r.log());
            assertTrue(r.log().contains("restored from a snapshot made at"), r.log());
        }
        // each run got its own environment, after the restore
        assertEquals(new StringBuilder("first-s3cret").reverse().toString(), a.envReversed());
        assertEquals(new StringBuilder("second-s3cret").reverse().toString(), b.envReversed());
        // clones must not share randomness: the kernel's, secrets' and random's
        assertNotEquals(a.urandom(), b.urandom());
        assertNotEquals(a.token(), b.token());
        assertNotEquals(a.random(), b.random());
        // the guest's wall clock is the host's, not the snapshot's: between the host's readings around each run
        assertTrue(before1 <= a.wallNs() && a.wallNs() <= after1, before1 + " <= " + a.wallNs() + " <= " + after1);
        assertTrue(before2 <= b.wallNs() && b.wallNs() <= after2, before2 + " <= " + b.wallNs() + " <= " + after2);

        // another machine (memory) than the snapshot's: one line why, then a cold boot that works
        Report c = run(app, tmp, "mismatch", "third-s3cret", 0, "--memory", "384");
        assertTrue(c.log().contains("ukernel: not restoring dist/snaptest.snap: it was made for another machine"),
                c.log());
        assertFalse(c.log().contains("restored from a snapshot"), c.log());
        assertEquals(new StringBuilder("third-s3cret").reverse().toString(), c.envReversed());
    }
}
