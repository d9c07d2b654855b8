package io.ukernel.vmm.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CpioWriterTest {
    private static byte[] archive() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (CpioWriter c = new CpioWriter(out, 1767225600L)) {
            c.file("a/b/c.txt", 0644, "hello".getBytes(StandardCharsets.UTF_8));
            c.symlink("a/link", "b/c.txt");
            c.charDevice("dev/console", 0600, 5, 1);
            c.directory("tmp", 01777);
        }
        return out.toByteArray();
    }

    /** The entries' names, modes and mtimes, read back by parsing the headers. */
    private static List<String> entries(byte[] a) {
        List<String> out = new ArrayList<>();
        int off = 0;
        while (true) {
            String h = new String(a, off, 110, StandardCharsets.US_ASCII);
            assertEquals("070701", h.substring(0, 6));
            long mode = Long.parseLong(h.substring(14, 22), 16);
            long uid = Long.parseLong(h.substring(22, 30), 16);
            long mtime = Long.parseLong(h.substring(46, 54), 16);
            long size = Long.parseLong(h.substring(54, 62), 16);
            int nameSize = Integer.parseInt(h.substring(94, 102), 16);
            String name = new String(a, off + 110, nameSize - 1, StandardCharsets.UTF_8);
            if (name.equals("TRAILER!!!")) {
                return out;
            }
            assertEquals(0, uid);
            assertEquals(1767225600L, mtime);
            out.add(name + " " + Long.toOctalString(mode));
            off += (int) ((110 + nameSize + 3) / 4 * 4);
            off += (int) ((size + 3) / 4 * 4);
        }
    }

    @Test
    void write_parentsFirst_fixedTimesAndIds_newcFormat() throws Exception {
        assertEquals(List.of("a 40755", "a/b 40755", "a/b/c.txt 100644", "a/link 120777", "dev 40755",
                "dev/console 20600", "tmp 41777"), entries(archive()));
    }

    @Test
    void write_isReproducible() throws Exception {
        assertArrayEquals(archive(), archive());
    }

    @Test
    void write_refusesDuplicatesAndEscapes() throws Exception {
        try (CpioWriter c = new CpioWriter(new ByteArrayOutputStream(), 0)) {
            c.file("x", 0644, new byte[0]);
            assertThrows(IllegalStateException.class, () -> c.file("x", 0644, new byte[0]));
            assertThrows(IllegalArgumentException.class, () -> c.file("../etc/passwd", 0644, new byte[0]));
            assertThrows(IllegalArgumentException.class, () -> c.file("a/../../b", 0644, new byte[0]));
        }
    }

    @Test
    void write_readableByGnuCpio(@TempDir Path tmp) throws Exception {
        Path cpio = Path.of("/usr/bin/cpio");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(cpio), "no cpio on this host");
        Path a = Files.write(tmp.resolve("a.cpio"), archive());
        Process p = new ProcessBuilder(cpio.toString(), "-t", "-F", a.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        assertTrue(out.contains("a/b/c.txt") && out.contains("dev/console"), out);
    }

    @Test
    void tinyInitrd_andInitElf_areWellFormed() {
        byte[] elf = InitElf.forCommand(List.of("/ukernel/java/bin/java", "@/ukernel/java.args"));
        assertEquals(0x7f, elf[0]);
        assertEquals('E', elf[1]);
        assertEquals(2, elf[4], "64-bit");
        assertEquals(0x3e, elf[18], "x86-64");
        assertTrue(new String(elf, StandardCharsets.ISO_8859_1).contains("/ukernel/java/bin/java\0@/ukernel/java.args\0"));
        assertTrue(elf.length < 512, "a few hundred bytes: " + elf.length);
        assertThrows(IllegalArgumentException.class, () -> InitElf.forCommand(List.of("java")));
        List<String> names = entries(TinyInitrd.printAndPowerOff("ok"));
        assertEquals(List.of("dev 40755", "dev/console 20600", "init 100755"), names);
    }
}
