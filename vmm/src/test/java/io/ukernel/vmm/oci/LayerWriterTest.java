package io.ukernel.vmm.oci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.json.Json;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Layers and the image layout: what GNU tar reads back (owners, modes, times, long names, links), byte-identical
 * output for identical input (gzip header without time or OS, fixed JSON), and the digests the manifest and
 * config record matching the blobs.
 */
class LayerWriterTest {
    static final long T = 1767225600L;

    private static LayerWriter.Layer sample(Path blob, String content) throws Exception {
        Path src = Files.createTempFile("layer-src-", ".bin");
        Files.writeString(src, content);
        try (LayerWriter w = new LayerWriter(blob, T)) {
            w.directory("tmp", 01777, 0, 0);
            w.file("etc/passwd", 0644, "root:x:0:0::/:/sbin/nologin\n".getBytes(StandardCharsets.UTF_8));
            w.file("app/data/file.txt", 0644, src, 65532, 65532);
            w.file("app/" + "d".repeat(120) + "/" + "f".repeat(90) + ".py", 0755, new byte[] {1, 2, 3});
            w.file("app/" + "x".repeat(200) + ".txt", 0644, new byte[] {4});
            w.symlink("ukernel/python/bin/python3", "python3.11");
            return w.finish();
        } finally {
            Files.delete(src);
        }
    }

    @Test
    void sameEntries_sameBytes_andTarReadsThemBack(@TempDir Path tmp) throws Exception {
        LayerWriter.Layer a = sample(tmp.resolve("a"), "hello\n");
        LayerWriter.Layer b = sample(tmp.resolve("b"), "hello\n");
        assertEquals(a.digest(), b.digest());
        assertArrayEquals(Files.readAllBytes(a.blob()), Files.readAllBytes(b.blob()));
        LayerWriter.Layer c = sample(tmp.resolve("c"), "hello!\n");
        assertNotEquals(a.digest(), c.digest());
        assertNotEquals(a.diffId(), c.diffId());

        byte[] gz = Files.readAllBytes(a.blob());
        // gzip header: no mtime, no name, OS "unknown"
        assertArrayEquals(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff}, Arrays.copyOf(gz, 10));
        assertEquals(a.size(), gz.length);
        assertEquals(a.digest(), "sha256:" + HexFormat.of().formatHex(LayerWriter.sha256().digest(gz)));
        byte[] tar;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(a.blob()))) {
            tar = in.readAllBytes();
        }
        assertEquals(a.uncompressedSize(), tar.length);
        assertEquals(a.diffId(), "sha256:" + HexFormat.of().formatHex(LayerWriter.sha256().digest(tar)));

        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/tar")) || Files.isExecutable(Path.of("/bin/tar")),
                "tar is not installed");
        Process p = new ProcessBuilder("tar", "--numeric-owner", "--full-time", "-tvzf", a.blob().toString())
                .redirectErrorStream(true).start();
        String list = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), list);
        assertTrue(list.contains("drwxrwxrwt 0/0") && list.contains(" tmp/"), list);
        assertTrue(list.lines().anyMatch(l -> l.matches("-rw-r--r-- 65532/65532 +6 2026-01-01 00:00:00 app/data/file.txt")),
                list);
        assertTrue(list.contains("app/" + "d".repeat(120) + "/" + "f".repeat(90) + ".py"), list);
        assertTrue(list.contains("app/" + "x".repeat(200) + ".txt"), list);
        assertTrue(list.contains("ukernel/python/bin/python3 -> python3.11"), list);
        assertTrue(list.contains("drwxr-xr-x 0/0") && list.contains(" ukernel/python/bin/"), list);
        // parents come before their entries, once each
        List<String> names = list.lines().map(l -> l.substring(l.lastIndexOf(' ') + 1)).toList();
        assertTrue(names.indexOf("app/") < names.indexOf("app/data/"), list);
        assertEquals(1, names.stream().filter("app/"::equals).count(), list);
    }

    @Test
    void badPaths_areRefused(@TempDir Path tmp) throws Exception {
        try (LayerWriter w = new LayerWriter(tmp.resolve("x"), T)) {
            assertThrows(OciException.class, () -> w.file("app/../etc/shadow", 0644, new byte[0]));
            assertThrows(OciException.class, () -> w.file("", 0644, new byte[0]));
        }
    }

    @Test
    void layout_recordsDigestsThatMatchItsBlobs_andIsReproducible(@TempDir Path tmp) throws Exception {
        OciLayout.Config cfg = new OciLayout.Config("65532:65532", List.of("PATH=/bin"), List.of("/bin/x"), List.of(),
                "/app", List.of("8080/tcp"), Map.of("org.opencontainers.image.title", "t", "io.ukernel.abi", "1.0"),
                "2026-01-01T00:00:00Z");
        String[] digests = new String[2];
        for (int i = 0; i < 2; i++) {
            Path dir = tmp.resolve("img" + i);
            LayerWriter.Layer l = sample(tmp.resolve("blob" + i), "same\n");
            OciLayout.Written w = OciLayout.write(dir, List.of(new OciLayout.NamedLayer("one", l)), cfg, "latest");
            digests[i] = w.manifestDigest();
            assertEquals("{\"imageLayoutVersion\":\"1.0.0\"}", Files.readString(dir.resolve("oci-layout")));
            Map<String, Object> index = Json.readObject(Files.readString(dir.resolve("index.json")));
            Map<?, ?> desc = (Map<?, ?>) ((List<?>) index.get("manifests")).get(0);
            assertEquals(w.manifestDigest(), desc.get("digest"));
            byte[] manifest = Files.readAllBytes(dir.resolve("blobs/sha256/" + OciLayout.hex(w.manifestDigest())));
            assertEquals(w.manifestDigest(), OciLayout.digest(manifest));
            Map<String, Object> m = Json.readObject(new String(manifest, StandardCharsets.UTF_8));
            Map<?, ?> layer = (Map<?, ?>) ((List<?>) m.get("layers")).get(0);
            assertEquals(l.digest(), layer.get("digest"));
            assertTrue(Files.isRegularFile(dir.resolve("blobs/sha256/" + OciLayout.hex(l.digest()))));
            byte[] config = Files.readAllBytes(dir.resolve("blobs/sha256/" + OciLayout.hex(w.configDigest())));
            Map<String, Object> c = Json.readObject(new String(config, StandardCharsets.UTF_8));
            assertEquals(List.of(l.diffId()), ((Map<?, ?>) c.get("rootfs")).get("diff_ids"));
            Map<?, ?> run = (Map<?, ?>) c.get("config");
            assertEquals("65532:65532", run.get("User"));
            assertEquals(Map.of("8080/tcp", Map.of()), run.get("ExposedPorts"));
        }
        assertEquals(digests[0], digests[1]);
    }
}
