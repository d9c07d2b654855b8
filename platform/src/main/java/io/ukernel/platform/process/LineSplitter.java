package io.ukernel.platform.process;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Cuts a worker's output stream into console lines while holding at most {@link #MAX_LINE_BYTES} of it: a line
 * longer than that is emitted as its first {@link #MAX_LINE_BYTES} bytes followed by a marker saying how many
 * bytes were cut, and the rest of it is counted and dropped, never buffered. Without the bound a worker printing
 * one endless line without a newline would make the kernel buffer it whole (a {@code BufferedReader.readLine}
 * grew to the JVM's heap limit and took the kernel down). Bytes are decoded as UTF-8 with replacement, so a
 * character cut at the bound shows as U+FFFD. Not thread-safe: one splitter per stream.
 */
public final class LineSplitter {
    /** Longest line kept, in bytes (the same bound as one {@code log_write} message). */
    public static final int MAX_LINE_BYTES = io.ukernel.abi.Abi.MAX_LOG_BYTES;
    private static final int CHUNK = 8192;

    private final int max;
    private final Consumer<String> sink;
    private final byte[] line;
    private int length;
    private long cut;

    /** A splitter that keeps at most {@code maxLineBytes} of each line and hands whole lines to {@code sink}. */
    public LineSplitter(int maxLineBytes, Consumer<String> sink) {
        if (maxLineBytes < 1) {
            throw new IllegalArgumentException("maxLineBytes " + maxLineBytes);
        }
        this.max = maxLineBytes;
        this.sink = sink;
        this.line = new byte[maxLineBytes];
    }

    /** Reads {@code in} to its end, emitting each line (and a last one without newline, if any). */
    public void pump(InputStream in) throws IOException {
        byte[] buf = new byte[CHUNK];
        for (int n; (n = in.read(buf)) >= 0; ) {
            feed(buf, 0, n);
        }
        finish();
    }

    /** Takes {@code n} bytes of output. */
    public void feed(byte[] buf, int off, int n) {
        int end = off + n;
        int start = off;
        for (int i = off; i < end; i++) {
            if (buf[i] == '\n') {
                append(buf, start, i - start);
                emit();
                start = i + 1;
            }
        }
        append(buf, start, end - start);
    }

    /** Emits what is pending as a last line (the stream ended without a newline). */
    public void finish() {
        if (length > 0 || cut > 0) {
            emit();
        }
    }

    private void append(byte[] buf, int off, int n) {
        int keep = Math.min(n, max - length);
        System.arraycopy(buf, off, line, length, keep);
        length += keep;
        cut += n - keep;
    }

    private void emit() {
        int end = length > 0 && line[length - 1] == '\r' && cut == 0 ? length - 1 : length;
        String text = new String(line, 0, end, StandardCharsets.UTF_8);
        if (cut > 0) {
            text += " … (" + cut + " bytes cut: a console line keeps at most " + max + " bytes)";
        }
        length = 0;
        cut = 0;
        sink.accept(text);
    }
}
