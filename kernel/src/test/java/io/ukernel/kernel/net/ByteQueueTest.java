package io.ukernel.kernel.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.GatheringByteChannel;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class ByteQueueTest {
    @Property
    void bytesComeOutInOrder_whateverTheChunkingOnEitherSide(@ForAll @Size(max = 20) List<byte[]> chunks,
            @ForAll @IntRange(min = 1, max = 50) int takeSize) {
        ByteQueue q = new ByteQueue();
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        for (byte[] c : chunks) {
            q.add(c, 0, c.length);
            in.writeBytes(c);
        }
        assertEquals(in.size(), q.size());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (!q.isEmpty()) {
            out.writeBytes(q.take(takeSize));
        }
        assertArrayEquals(in.toByteArray(), out.toByteArray());
        assertEquals(0, q.take(10).length);
    }

    @Property
    void partialGatheringWrites_consumeExactlyWhatWasWritten(@ForAll @Size(min = 1, max = 20) List<byte[]> chunks,
            @ForAll @IntRange(min = 1, max = 7) int perWrite) throws Exception {
        ByteQueue q = new ByteQueue();
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        for (byte[] c : chunks) {
            q.add(c, 0, c.length);
            in.writeBytes(c);
        }
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        GatheringByteChannel slow = new Trickle(sink, perWrite);
        for (int guard = 0; !q.isEmpty(); guard++) {
            q.writeTo(slow);
            if (guard > 100_000) {
                throw new AssertionError("no progress");
            }
        }
        assertArrayEquals(in.toByteArray(), sink.toByteArray());
    }

    /** A channel that takes at most {@code max} bytes per write, like a host socket with a full buffer. */
    private static final class Trickle implements GatheringByteChannel {
        private final java.nio.channels.WritableByteChannel out;
        private final int max;

        Trickle(ByteArrayOutputStream sink, int max) {
            this.out = Channels.newChannel(sink);
            this.max = max;
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws java.io.IOException {
            long n = 0;
            for (int i = offset; i < offset + length && n < max; i++) {
                ByteBuffer b = srcs[i];
                int k = (int) Math.min(b.remaining(), max - n);
                ByteBuffer part = b.slice(b.position(), k);
                out.write(part);
                b.position(b.position() + k);
                n += k;
            }
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs) throws java.io.IOException {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public int write(ByteBuffer src) throws java.io.IOException {
            return (int) write(new ByteBuffer[] {src});
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {}
    }
}
