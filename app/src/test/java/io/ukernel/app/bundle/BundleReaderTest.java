package io.ukernel.app.bundle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.app.ManifestParser;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BundleReaderTest {
    @TempDir
    Path tmp;

    /** One entry of a hand-made archive. */
    private record Raw(String name, char type, byte[] content) {
        static Raw file(String name, String content) {
            return new Raw(name, '0', content.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** A gzip'd tar of {@code entries}, with type flags patched in (TarWriter itself writes only '0' and '5'). */
    private Path tgz(Raw... entries) throws Exception {
        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        for (Raw r : entries) {
            ByteArrayOutputStream one = new ByteArrayOutputStream();
            TarWriter w = new TarWriter(one, 0);
            w.file(r.name(), 0644, r.content());
            byte[] b = one.toByteArray();
            b[156] = (byte) r.type();
            if (r.type() == '2') {
                byte[] target = "/etc/passwd".getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(target, 0, b, 157, target.length);
            }
            for (int i = 148; i < 156; i++) {
                b[i] = ' ';
            }
            long sum = 0;
            for (int i = 0; i < 512; i++) {
                sum += b[i] & 0xff;
            }
            System.arraycopy("%06o\0 ".formatted(sum).getBytes(StandardCharsets.US_ASCII), 0, b, 148, 8);
            tar.write(b);
        }
        tar.write(new byte[1024]);
        Path f = tmp.resolve("test-" + System.nanoTime() + ".tgz");
        try (GZIPOutputStream gz = new GZIPOutputStream(Files.newOutputStream(f))) {
            gz.write(tar.toByteArray());
        }
        return f;
    }

    private BundleException rejected(Path tgz) {
        Path dest = tmp.resolve("out-" + System.nanoTime());
        BundleException e = assertThrows(BundleException.class, () -> BundleReader.extract(tgz, dest));
        assertFalse(Files.exists(dest), "a failed extraction leaves nothing behind");
        return e;
    }

    @Test
    void extract_roundTrip() throws Exception {
        Path app = TestApps.app(tmp, "demo");
        Path adapter = TestApps.adapterCopy(tmp);
        new BundleBuilder(app, adapter).build(ManifestParser.parse(app.resolve("ukernel.toml")));
        Path dest = tmp.resolve("root");
        BundleReader.extract(Bundle.path(app), dest);
        assertArrayEquals(Files.readAllBytes(app.resolve("src/main.py")), Files.readAllBytes(dest.resolve("src/main.py")));
        assertArrayEquals(Files.readAllBytes(app.resolve("ukernel.toml")), Files.readAllBytes(dest.resolve("ukernel.toml")));
        try (Stream<Path> s = Files.list(adapter)) {
            for (Path p : s.toList()) {
                assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(dest.resolve("adapter/ukernel").resolve(p.getFileName())));
            }
        }
        assertTrue(Files.isRegularFile(dest.resolve("bundle.json")));
        assertFalse(Files.exists(dest.resolve("env")));
        assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(dest.resolve("src/main.py"))));
    }

    @Test
    void extract_rejectsDotDot() throws Exception {
        assertTrue(rejected(tgz(Raw.file("ok.txt", "a"), Raw.file("../x", "evil"))).getMessage().contains("\"..\""));
        assertFalse(Files.exists(tmp.resolve("x")));
        assertTrue(rejected(tgz(Raw.file("a/../../x", "evil"))).getMessage().contains("\"..\""));
    }

    @Test
    void extract_rejectsAbsolutePaths() throws Exception {
        assertTrue(rejected(tgz(Raw.file("/tmp/evil", "x"))).getMessage().contains("absolute"));
    }

    @Test
    void extract_rejectsLinksAndSpecialFiles() throws Exception {
        assertTrue(rejected(tgz(new Raw("passwd", '2', new byte[0]))).getMessage().contains("links"));
        assertTrue(rejected(tgz(new Raw("hard", '1', new byte[0]))).getMessage().contains("links"));
        assertTrue(rejected(tgz(new Raw("dev", '3', new byte[0]))).getMessage().contains("not allowed"));
        assertTrue(rejected(tgz(new Raw("pax", 'x', new byte[0]))).getMessage().contains("not allowed"));
    }

    @Test
    void extract_rejectsDuplicatesAndGarbage() throws Exception {
        assertTrue(rejected(tgz(Raw.file("a", "1"), Raw.file("a", "2"))).getMessage().contains("duplicate"));
        Path junk = tmp.resolve("junk.tgz");
        Files.writeString(junk, "not a bundle");
        rejected(junk);
    }

    @Test
    void extract_refusesNonEmptyDestination() throws Exception {
        Path dest = Files.createDirectories(tmp.resolve("busy"));
        Files.writeString(dest.resolve("keep"), "mine");
        BundleException e = assertThrows(BundleException.class,
                () -> BundleReader.extract(tgz(Raw.file("a", "1")), dest));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        assertEquals(List.of(dest.resolve("keep")), Files.list(dest).toList());
    }

    @Test
    void extract_leadingDotSlashIsAccepted() throws Exception {
        Path dest = tmp.resolve("dot");
        BundleReader.extract(tgz(Raw.file("./a/b.txt", "hi")), dest);
        assertEquals("hi", Files.readString(dest.resolve("a/b.txt")));
    }

    @Test
    void read_findsOneEntry() throws Exception {
        Path t = tgz(Raw.file("a", "1"), Raw.file("b", "2"));
        assertEquals("2", new String(BundleReader.read(t, "b").orElseThrow(), StandardCharsets.UTF_8));
        assertTrue(BundleReader.read(t, "c").isEmpty());
    }
}
