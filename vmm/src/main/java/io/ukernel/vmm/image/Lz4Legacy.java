package io.ukernel.vmm.image;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Decompresses the LZ4 "legacy" frame format that Linux uses for {@code CONFIG_KERNEL_LZ4} kernels (Debian's
 * cloud kernels among them): a magic number, then blocks of {@code u32 compressed size} + an LZ4 block that
 * decompresses to at most 8 MiB on its own. The kernel's build appends the uncompressed size (4 bytes), which
 * ends the stream.
 */
final class Lz4Legacy {
    static final int MAGIC = 0x184C2102;
    private static final int MAX_BLOCK = 8 << 20;

    private Lz4Legacy() {}

    /** Decompresses {@code in[off, off+len)} into {@code out}; returns the bytes written. */
    static long decompress(byte[] in, int off, int len, OutputStream out) throws IOException {
        int end = off + len;
        if (len < 4 || le32(in, off) != MAGIC) {
            throw new IOException("not LZ4 legacy data");
        }
        int ip = off + 4;
        byte[] block = new byte[MAX_BLOCK];
        long total = 0;
        while (end - ip > 4) {
            int size = le32(in, ip);
            ip += 4;
            if (size == MAGIC) {
                continue;                       // concatenated streams
            }
            if (size <= 0 || size > end - ip) {
                break;                          // the appended uncompressed size, or padding
            }
            int n = block(in, ip, size, block);
            out.write(block, 0, n);
            total += n;
            ip += size;
        }
        return total;
    }

    /** One LZ4 block into {@code dst}; returns its decompressed length. */
    static int block(byte[] src, int start, int size, byte[] dst) throws IOException {
        int ip = start;
        int end = start + size;
        int op = 0;
        try {
            while (ip < end) {
                int token = src[ip++] & 0xff;
                int lit = token >>> 4;
                if (lit == 15) {
                    int b;
                    do {
                        b = src[ip++] & 0xff;
                        lit += b;
                    } while (b == 255);
                }
                System.arraycopy(src, ip, dst, op, lit);
                ip += lit;
                op += lit;
                if (ip >= end) {
                    break;                      // the last sequence has literals only
                }
                int offset = (src[ip] & 0xff) | (src[ip + 1] & 0xff) << 8;
                ip += 2;
                int match = token & 15;
                if (match == 15) {
                    int b;
                    do {
                        b = src[ip++] & 0xff;
                        match += b;
                    } while (b == 255);
                }
                match += 4;
                if (offset == 0 || offset > op) {
                    throw new IOException("corrupt LZ4 block (bad match offset)");
                }
                int from = op - offset;
                if (offset >= match) {
                    System.arraycopy(dst, from, dst, op, match);
                    op += match;
                } else {
                    for (int i = 0; i < match; i++) {
                        dst[op++] = dst[from + i];
                    }
                }
            }
        } catch (IndexOutOfBoundsException e) {
            throw new IOException("corrupt LZ4 block", e);
        }
        return op;
    }

    static int le32(byte[] b, int i) {
        return (b[i] & 0xff) | (b[i + 1] & 0xff) << 8 | (b[i + 2] & 0xff) << 16 | (b[i + 3] & 0xff) << 24;
    }
}
