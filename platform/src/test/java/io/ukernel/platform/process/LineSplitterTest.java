package io.ukernel.platform.process;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LineSplitterTest {
    final List<String> lines = new ArrayList<>();

    @Test
    void pump_shortLines_emittedWhole() throws IOException {
        new LineSplitter(16, lines::add).pump(in("one\ntwo\r\n\nlast"));
        assertEquals(List.of("one", "two", "", "last"), lines);
    }

    @Test
    void pump_longLine_keepsTheBoundAndSaysHowMuchWasCut() throws IOException {
        new LineSplitter(8, lines::add).pump(in("0123456789abcdef\nnext\n"));
        assertEquals(2, lines.size());
        assertTrue(lines.get(0).startsWith("01234567 … (8 bytes cut"), lines.get(0));
        assertEquals("next", lines.get(1));
    }

    @Test
    void pump_endlessLineWithoutNewline_neverBuffersMoreThanTheBound() throws IOException {
        long total = 1L << 28; // 256 MiB of one line: only the first 32 bytes may be held
        new LineSplitter(32, lines::add).pump(endless(total));
        assertEquals(1, lines.size());
        assertTrue(lines.get(0).startsWith("x".repeat(32) + " … (" + (total - 32) + " bytes cut"), lines.get(0));
    }

    @Test
    void feed_lineSplitAcrossReads_joined() {
        LineSplitter s = new LineSplitter(64, lines::add);
        s.feed("hel".getBytes(StandardCharsets.UTF_8), 0, 3);
        s.feed("lo\nwor".getBytes(StandardCharsets.UTF_8), 0, 6);
        s.finish();
        assertEquals(List.of("hello", "wor"), lines);
    }

    private static InputStream in(String s) {
        return new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8));
    }

    /** {@code total} bytes of 'x' produced on demand (nothing holds them). */
    private static InputStream endless(long total) {
        return new InputStream() {
            long left = total;

            @Override
            public int read() {
                return left-- > 0 ? 'x' : -1;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (left <= 0) {
                    return -1;
                }
                int n = (int) Math.min(len, left);
                java.util.Arrays.fill(b, off, off + n, (byte) 'x');
                left -= n;
                return n;
            }
        };
    }
}
