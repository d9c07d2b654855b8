package io.ukernel.kernel.net;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;
import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * A FIFO of bytes kept as the chunks they arrived in (no ring buffer sized for the worst case: a socket that
 * queues nothing costs nothing). Bounds are the caller's business. Reactor thread only.
 */
final class ByteQueue {
    /** Most chunks handed to one gathering write (well under the host's IOV_MAX). */
    private static final int MAX_GATHER = 64;

    private final ArrayDeque<byte[]> chunks = new ArrayDeque<>();
    private int head; // bytes of the first chunk already taken
    private long size;

    long size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** Appends {@code len} bytes of {@code b}; a whole array is kept as is, so the caller must not reuse it. */
    void add(byte[] b, int off, int len) {
        if (len == 0) {
            return;
        }
        chunks.add(off == 0 && len == b.length ? b : java.util.Arrays.copyOfRange(b, off, off + len));
        size += len;
    }

    /** Takes up to {@code max} bytes from the front (an empty array when the queue is empty). */
    byte[] take(int max) {
        int n = (int) Math.min(max, size);
        byte[] out = new byte[n];
        int at = 0;
        while (at < n) {
            byte[] c = chunks.peek();
            int k = Math.min(n - at, c.length - head);
            System.arraycopy(c, head, out, at, k);
            at += k;
            consume(k);
        }
        return out;
    }

    /** Writes from the front to {@code ch} (one gathering write); returns the bytes written. */
    long writeTo(GatheringByteChannel ch) throws IOException {
        ByteBuffer[] bufs = new ByteBuffer[Math.min(chunks.size(), MAX_GATHER)];
        Iterator<byte[]> it = chunks.iterator();
        for (int i = 0; i < bufs.length; i++) {
            byte[] c = it.next();
            bufs[i] = i == 0 ? ByteBuffer.wrap(c, head, c.length - head) : ByteBuffer.wrap(c);
        }
        long written = ch.write(bufs);
        for (long left = written; left > 0; ) {
            int k = (int) Math.min(left, chunks.peek().length - head);
            consume(k);
            left -= k;
        }
        return written;
    }

    void clear() {
        chunks.clear();
        head = 0;
        size = 0;
    }

    private void consume(int k) {
        head += k;
        size -= k;
        if (head == chunks.peek().length) {
            chunks.poll();
            head = 0;
        }
    }
}
