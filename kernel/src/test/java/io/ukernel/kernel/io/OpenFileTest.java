package io.ukernel.kernel.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Event;
import io.ukernel.abi.OpenFlag;
import io.ukernel.abi.StatKind;
import io.ukernel.kernel.policy.Policy.Preopen;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OpenFileTest {
    @TempDir
    Path app;

    private OpenFile open(String rel, long flags) throws Exception {
        Files.createDirectories(app.resolve("d"));
        Preopens p = new Preopens(app, Map.of("d", new Preopen("d", "d", true)));
        return p.open(p.get("d").orElseThrow(), rel, flags);
    }

    @Test
    void write_largerThanTheStagingBuffer_isWrittenWhole() throws Exception {
        byte[] data = new byte[(2 << 20) + 3];
        new Random(7).nextBytes(data);
        long rw = OpenFlag.READ.bit() | OpenFlag.WRITE.bit() | OpenFlag.CREATE.bit();
        OpenFile f = open("big", rw);
        assertEquals(data.length, f.write(data));
        assertEquals(0, f.seek(0, 0));
        byte[] first = f.read(Integer.MAX_VALUE);
        assertTrue(first.length > 0 && first.length <= 1 << 20, "one read is at most one buffer");
        assertEquals(data.length, f.stat().size());
        f.close();
        assertArrayEquals(data, Files.readAllBytes(app.resolve("d/big")));
    }

    @Test
    void stat_reportsKindSizeAndMtimeInNanoseconds() throws Exception {
        Files.createDirectories(app.resolve("d"));
        Files.writeString(app.resolve("d/f"), "12345");
        Files.setLastModifiedTime(app.resolve("d/f"), FileTime.fromMillis(1_700_000_000_123L));
        OpenFile f = open("f", OpenFlag.READ.bit());
        OpenFile dir = open(".", OpenFlag.READ.bit());
        assertEquals(new FileStat(5, 1_700_000_000_123_000_000L, StatKind.FILE), f.stat());
        assertEquals(StatKind.DIRECTORY, dir.stat().kind());
        assertEquals(Libc.EISDIR, assertThrows(ErrnoException.class, () -> dir.read(10)).errno());
        f.close();
        dir.close();
    }

    @Test
    void signals_areAlwaysReadableAndWritable() throws Exception {
        Files.createDirectories(app.resolve("d"));
        Files.writeString(app.resolve("d/f"), "");
        OpenFile f = open("f", OpenFlag.READ.bit());
        assertEquals(Event.READABLE.bit() | Event.WRITABLE.bit(), f.signals());
        assertEquals(0, f.read(10).length, "empty at end of file");
        f.close();
        assertTrue(f.isClosed());
    }
}
