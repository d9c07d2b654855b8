package io.ukernel.vmm.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.vmm.GuestParams;
import io.ukernel.vmm.RestoreRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The snapshot's key (what must match for a restore) and the restore record, without QEMU: every kind of
 * mismatch is caught before QEMU would load a byte, with a reason that says what changed.
 */
class QemuSnapshotTest {
    private static Map<String, String> key(Path dir, String machine) throws Exception {
        return QemuSnapshot.key(dir.resolve("x.img"), dir.resolve("x.vmlinuz"), "QEMU emulator version 7.2.22", machine);
    }

    @Test
    void matchingSnapshot_isUsable_everyChangeIsAReasonToBootCold(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("x.img"), new byte[] {1, 2, 3});
        Files.write(dir.resolve("x.vmlinuz"), new byte[] {4, 5});
        Path stream = QemuSnapshot.stream(dir, "x");
        Path keyFile = QemuSnapshot.keyFile(dir, "x");
        byte[] saved = new byte[4096];
        new java.util.Random(1).nextBytes(saved);
        Files.write(stream, saved);
        QemuSnapshot.writeKey(keyFile, key(dir, "m1"), stream, dir.resolve("x.img"), dir.resolve("x.vmlinuz"));
        assertEquals(Optional.empty(), QemuSnapshot.check(stream, keyFile, key(dir, "m1")));

        assertTrue(QemuSnapshot.check(stream, keyFile, key(dir, "m2")).orElseThrow()
                .startsWith("it was made for another machine (m1; now m2)"));
        assertEquals("it was made by another VMM version (QEMU: QEMU emulator version 7.2.22; now QEMU: QEMU 9)", QemuSnapshot.check(stream,
                keyFile, QemuSnapshot.key(dir.resolve("x.img"), dir.resolve("x.vmlinuz"), "QEMU 9", "m1"))
                .orElseThrow());

        Files.write(dir.resolve("x.img"), new byte[] {1, 2, 4});          // repacked
        assertEquals("it was made of another image (repacked since)",
                QemuSnapshot.check(stream, keyFile, key(dir, "m1")).orElseThrow());
        Files.write(dir.resolve("x.img"), new byte[] {1, 2, 3});
        Files.write(dir.resolve("x.vmlinuz"), new byte[] {4, 6});
        assertEquals("it was made with another guest kernel",
                QemuSnapshot.check(stream, keyFile, key(dir, "m1")).orElseThrow());
        Files.write(dir.resolve("x.vmlinuz"), new byte[] {4, 5});

        byte[] damaged = saved.clone();
        damaged[2000] ^= 1;
        Files.write(stream, damaged);
        assertEquals("x.snap's checksum differs from the one it was saved with (damaged)",
                QemuSnapshot.check(stream, keyFile, key(dir, "m1")).orElseThrow());
        Files.write(stream, java.util.Arrays.copyOf(saved, 4000));
        assertTrue(QemuSnapshot.check(stream, keyFile, key(dir, "m1")).orElseThrow()
                .startsWith("x.snap is 4000 bytes, not the 4096 it was saved with"));
        Files.delete(keyFile);
        assertEquals("its key file x.snap.properties is missing",
                QemuSnapshot.check(stream, keyFile, key(dir, "m1")).orElseThrow());
    }

    @Test
    void unchangedFiles_areNotHashedAgain_anyWriteIsNoticed(@TempDir Path dir) throws Exception {
        Path img = Files.write(dir.resolve("x.img"), new byte[] {1, 2, 3});
        Path kernel = Files.write(dir.resolve("x.vmlinuz"), new byte[] {4, 5});
        Path stream = Files.write(QemuSnapshot.stream(dir, "x"), new byte[] {9});
        Path keyFile = QemuSnapshot.keyFile(dir, "x");
        QemuSnapshot.writeKey(keyFile, key(dir, "m"), stream, img, kernel);
        // A recorded digest is trusted while the file's identity (inode, size, mtime, ctime) is the recorded one and
        // it was last changed before the key was written: shown by replacing the recorded digest, which the
        // unchanged image then "has". (The key is dated a minute on: here it was written in the same clock tick.)
        String text = Files.readString(keyFile);
        String real = QemuSnapshot.key(img, kernel, "v", "m").get("image.sha256");
        Files.writeString(keyFile, text.replace("image.sha256=" + real, "image.sha256=" + "0".repeat(64)));
        java.nio.file.attribute.FileTime later = java.nio.file.attribute.FileTime.from(
                java.time.Instant.now().plusSeconds(60));
        Files.setLastModifiedTime(keyFile, later);
        assertEquals("0".repeat(64), QemuSnapshot.expected(keyFile, img, kernel, "v", "m").get("image.sha256"));
        // a file changed since: hashed again
        Files.write(img, new byte[] {1, 2, 3, 4});
        String now = QemuSnapshot.key(img, kernel, "v", "m").get("image.sha256");
        assertEquals(now, QemuSnapshot.expected(keyFile, img, kernel, "v", "m").get("image.sha256"));
        assertEquals("it was made of another image (repacked since)", QemuSnapshot.check(stream, keyFile,
                QemuSnapshot.expected(keyFile, img, kernel, "QEMU emulator version 7.2.22", "m")).orElseThrow());
        // a key written in the same tick as the file's last change: not trusted (git's racily-clean rule)
        Files.setLastModifiedTime(keyFile, (java.nio.file.attribute.FileTime) Files.getAttribute(img, "unix:ctime"));
        QemuSnapshot.writeKey(keyFile, key(dir, "m"), stream, img, kernel);
        text = Files.readString(keyFile);
        Files.writeString(keyFile, text.replace("image.sha256=" + now, "image.sha256=" + "0".repeat(64)));
        Files.setLastModifiedTime(keyFile, (java.nio.file.attribute.FileTime) Files.getAttribute(img, "unix:ctime"));
        assertEquals(now, QemuSnapshot.expected(keyFile, img, kernel, "v", "m").get("image.sha256"));
    }

    @Test
    void restoreRecord_roundTrips_freshSeedEachTime() {
        GuestParams p = new GuestParams(Map.of("TOKEN", "a b=c"), 3000, "json", true, Optional.empty(),
                GuestParams.Halt.POWEROFF, false);
        RestoreRecord r = RestoreRecord.fresh(p, new SecureRandom());
        String line = r.toLine();
        assertTrue(line.endsWith("\n") && !line.contains("a b=c"), line);   // one line; the env is encoded
        RestoreRecord back = RestoreRecord.parse(line);
        assertEquals(r.wallNs(), back.wallNs());
        assertEquals(java.util.HexFormat.of().formatHex(r.seed()), java.util.HexFormat.of().formatHex(back.seed()));
        assertEquals(p, back.params());
        assertEquals(RestoreRecord.SEED_BYTES, r.seed().length);
        assertTrue(!java.util.Arrays.equals(r.seed(), RestoreRecord.fresh(p, new SecureRandom()).seed()));
        assertTrue(back.reseed());
        RestoreRecord insecure = RestoreRecord.parse(RestoreRecord.fresh(p, new SecureRandom(), false).toLine());
        assertTrue(!insecure.reseed() && insecure.params().equals(p));
    }

    @Test
    void shellQuote_survivesQuotesAndSpaces() {
        assertEquals("'/tmp/a b/it'\\''s.snap'", QemuMicrovmBackend.shellQuote("/tmp/a b/it's.snap"));
    }
}
