package io.ukernel.app.bundle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.ukernel.app.Manifest;
import io.ukernel.app.ManifestParser;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BundleBuilderTest {
    @TempDir
    Path tmp;
    Path app;
    Path adapter;

    @BeforeEach
    void setUp() throws Exception {
        app = TestApps.app(tmp, "demo");
        adapter = TestApps.adapterCopy(tmp);
        Files.createDirectories(app.resolve("src/pkg"));
        Files.writeString(app.resolve("src/pkg/util.py"), "X = 1\n");
    }

    private Manifest manifest() throws Exception {
        return ManifestParser.parse(app.resolve("ukernel.toml"));
    }

    private byte[] build() throws Exception {
        new BundleBuilder(app, adapter).mtime(0).build(manifest());
        return Files.readAllBytes(Bundle.path(app));
    }

    /** Headers of the (uncompressed) archive, in order. */
    private static List<TarReader.Header> headers(byte[] tgz) throws Exception {
        List<TarReader.Header> out = new ArrayList<>();
        TarReader r = new TarReader(new GZIPInputStream(new ByteArrayInputStream(tgz)));
        for (TarReader.Header h; (h = r.next()) != null; ) {
            out.add(h);
        }
        return out;
    }

    @Test
    void build_twiceGivesIdenticalBytes() throws Exception {
        byte[] first = build();
        for (Path p : List.of(app.resolve("src/main.py"), app.resolve("ukernel.toml"))) {
            Files.setLastModifiedTime(p, FileTime.from(Instant.now().plusSeconds(5)));
        }
        byte[] second = build();
        assertArrayEquals(first, second);
    }

    @Test
    void build_sameContentInAnotherDirectoryGivesIdenticalBytes() throws Exception {
        byte[] first = build();
        Path other = TestApps.app(tmp.resolve("elsewhere"), "demo");
        Files.createDirectories(other.resolve("src/pkg"));
        Files.writeString(other.resolve("src/pkg/util.py"), "X = 1\n");
        new BundleBuilder(other, adapter).mtime(0).build(ManifestParser.parse(other.resolve("ukernel.toml")));
        assertArrayEquals(first, Files.readAllBytes(Bundle.path(other)));
    }

    @Test
    void build_changedSourceGivesDifferentBytesAndStale() throws Exception {
        byte[] first = build();
        assertFalse(Bundle.isStale(app, adapter));
        Files.writeString(app.resolve("src/pkg/util.py"), "X = 2\n");
        assertTrue(Bundle.isStale(app, adapter));
        assertFalse(java.util.Arrays.equals(first, build()));
        assertFalse(Bundle.isStale(app, adapter));
    }

    @Test
    void build_entriesSortedWithDirectoriesAndNormalisedMetadata() throws Exception {
        Files.writeString(app.resolve("src/tool.py"), "#!/usr/bin/env python3\n");
        Files.setPosixFilePermissions(app.resolve("src/tool.py"), PosixFilePermissions.fromString("rwx------"));
        List<TarReader.Header> hs = headers(build());
        List<String> names = hs.stream().map(TarReader.Header::name).toList();
        assertEquals(names.stream().sorted().toList(), names);
        assertTrue(names.containsAll(List.of("adapter/", "adapter/ukernel/", "adapter/ukernel/__init__.py",
                "bundle.json", "src/", "src/main.py", "src/pkg/", "src/pkg/util.py", "ukernel.toml")), names::toString);
        for (TarReader.Header h : hs) {
            int expected = h.type() == '5' || h.name().equals("src/tool.py") ? 0755 : 0644;
            assertEquals(expected, h.mode(), h.name());
        }
    }

    @Test
    void build_rawHeadersHaveFixedOwnerAndTime() throws Exception {
        byte[] tgz = new BundleBuilder(app, adapter).mtime(1_700_000_000L).toBytes(manifest());
        assertEquals(0, tgz[4] | tgz[5] | tgz[6] | tgz[7], "gzip mtime");
        assertEquals(0, tgz[3] & 0x08, "gzip FNAME flag");
        byte[] tar = new GZIPInputStream(new ByteArrayInputStream(tgz)).readAllBytes();
        assertEquals(0, tar.length % 10240);
        String uid = new String(tar, 108, 7, StandardCharsets.US_ASCII);
        String mtime = new String(tar, 136, 11, StandardCharsets.US_ASCII);
        String uname = new String(tar, 265, 32, StandardCharsets.US_ASCII);
        assertEquals("0000000", uid);
        assertEquals(Long.toOctalString(1_700_000_000L), mtime.replaceFirst("^0+", ""));
        assertEquals("\0".repeat(32), uname);
    }

    @Test
    void build_skipsCachesDotfilesAndEnv() throws Exception {
        Files.createDirectories(app.resolve("src/__pycache__"));
        Files.writeString(app.resolve("src/__pycache__/main.cpython-311.pyc"), "x");
        Files.writeString(app.resolve("src/old.pyc"), "x");
        Files.writeString(app.resolve("src/.secret"), "x");
        Files.createDirectories(app.resolve("src/.git"));
        Files.writeString(app.resolve("src/.git/config"), "x");
        Files.writeString(app.resolve("env/ukernel.env"), "TOKEN=secret\n");
        Files.createDirectories(app.resolve("logs"));
        Files.writeString(app.resolve("logs/console.log"), "x");
        build();
        List<String> names = BundleReader.list(Bundle.path(app));
        assertTrue(names.contains("src/main.py"), names::toString);
        for (String n : names) {
            assertFalse(n.contains("__pycache__") || n.endsWith(".pyc") || n.contains("/.") || n.startsWith("env")
                    || n.startsWith("logs"), n);
        }
    }

    @Test
    void build_indexRecordsVersionsAndHashes() throws Exception {
        build();
        String json = new String(BundleReader.read(Bundle.path(app), Bundle.INDEX).orElseThrow(), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"name\": \"demo\""), json);
        assertTrue(json.contains("\"entry\": \"src/main.py\""), json);
        assertTrue(json.contains("\"python\": \"3.11\""), json);
        assertTrue(json.contains("\"adapter_version\": \"0.1.0\""), json);
        assertTrue(json.contains("\"abi_version\": \"" + io.ukernel.abi.Abi.VERSION_MAJOR + "." + io.ukernel.abi.Abi.VERSION_MINOR + "\""), json);
        String mainHash = Sha256.hex(Files.readAllBytes(app.resolve("src/main.py")));
        assertTrue(json.contains("\"src/main.py\": \"" + mainHash + "\""), json);
        assertFalse(json.contains("\"bundle.json\""), json);
    }

    @Test
    void build_refusesSymlinkInSources() throws Exception {
        Files.createSymbolicLink(app.resolve("src/link.py"), Path.of("../ukernel.toml"));
        BundleException e = assertThrows(BundleException.class, () -> build());
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
        assertFalse(Files.exists(Bundle.path(app)));
    }

    @Test
    void build_writesAtomicallyWithoutLeftovers() throws Exception {
        build();
        build();
        try (var s = Files.list(app.resolve("build"))) {
            assertEquals(List.of("bundle.tgz"), s.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void sourceDateEpoch_parsedOrRejected() throws Exception {
        assertEquals(0, BundleBuilder.sourceDateEpoch(null));
        assertEquals(1_700_000_000L, BundleBuilder.sourceDateEpoch("1700000000"));
        assertThrows(BundleException.class, () -> BundleBuilder.sourceDateEpoch("yesterday"));
    }

    @Test
    void build_isReadableByTar() throws Exception {
        build();
        ProcessBuilder pb = new ProcessBuilder("tar", "-tzvf", Bundle.path(app).toString()).redirectErrorStream(true);
        Process p;
        try {
            p = pb.start();
        } catch (java.io.IOException noTar) {
            assumeTrue(false, "tar is not installed");
            return;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("src/pkg/util.py"), out);
        assertTrue(out.contains("root") || out.contains("0/0"), out);
    }

    @Test
    void json_sortedKeysAndEscapes() {
        String s = io.ukernel.app.json.Json.writeSorted(Map.of("b", "x\"y", "a", Map.of("z", 1, "y", "\n")));
        assertEquals("{\n  \"a\": {\n    \"y\": \"\\n\",\n    \"z\": 1\n  },\n  \"b\": \"x\\\"y\"\n}\n", s);
        assertEquals(Map.of("k", "v\n"), io.ukernel.app.json.Json.readStrings("{\"k\": \"v\\n\", \"n\": 1}"));
    }
}
