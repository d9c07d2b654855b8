package io.ukernel.app.bundle;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads ustar headers and contents from a stream, checking each header's checksum and fields. It makes no
 * judgement on names or types: {@link BundleReader} does.
 */
final class TarReader {
    /** One header: the full name (prefix joined), the type flag, the permission bits and the content size. */
    record Header(String name, char type, int mode, long size) {}

    private final InputStream in;
    private long remaining;
    private long padding;

    TarReader(InputStream in) {
        this.in = in;
    }

    /** The next header, or {@code null} at the end-of-archive marker; skips unread content of the previous one. */
    Header next() throws IOException {
        skip(remaining + padding);
        remaining = 0;
        padding = 0;
        byte[] h = new byte[TarWriter.BLOCK];
        if (!readFully(h)) {
            throw new BundleException("truncated archive: no end-of-archive marker");
        }
        if (allZero(h)) {
            return null;
        }
        long stored = octal(h, 148, 8, "checksum");
        long sum = 0;
        for (int i = 0; i < h.length; i++) {
            sum += i >= 148 && i < 156 ? ' ' : h[i] & 0xff;
        }
        if (sum != stored) {
            throw new BundleException("corrupt archive: header checksum mismatch");
        }
        String magic = new String(h, 257, 5, StandardCharsets.US_ASCII);
        if (!magic.equals("ustar")) {
            throw new BundleException("not a ustar archive (magic \"" + magic.replace('\0', ' ').strip() + "\")");
        }
        String name = field(h, 0, 100);
        String prefix = field(h, 345, 155);
        String full = prefix.isEmpty() ? name : prefix + "/" + name;
        long size = octal(h, 124, 12, "size");
        int mode = (int) (octal(h, 100, 8, "mode") & 07777);
        char type = (char) (h[156] & 0xff);
        remaining = size;
        padding = (TarWriter.BLOCK - size % TarWriter.BLOCK) % TarWriter.BLOCK;
        return new Header(full, type == 0 ? '0' : type, mode, size);
    }

    /** Copies the current entry's content to {@code out}. */
    void copyContent(OutputStream out) throws IOException {
        byte[] buf = new byte[65536];
        while (remaining > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, remaining));
            if (n < 0) {
                throw new BundleException("truncated archive: entry content ends early");
            }
            out.write(buf, 0, n);
            remaining -= n;
        }
    }

    private void skip(long n) throws IOException {
        byte[] buf = new byte[8192];
        while (n > 0) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, n));
            if (r < 0) {
                throw new BundleException("truncated archive: entry content ends early");
            }
            n -= r;
        }
    }

    private boolean readFully(byte[] b) throws IOException {
        int off = 0;
        while (off < b.length) {
            int n = in.read(b, off, b.length - off);
            if (n < 0) {
                if (off == 0) {
                    return false;
                }
                throw new EOFException("truncated tar header");
            }
            off += n;
        }
        return true;
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    private static String field(byte[] h, int off, int len) throws BundleException {
        int end = off;
        while (end < off + len && h[end] != 0) {
            end++;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .decode(java.nio.ByteBuffer.wrap(h, off, end - off)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new BundleException("corrupt archive: entry name is not UTF-8");
        }
    }

    private static long octal(byte[] h, int off, int len, String what) throws BundleException {
        if ((h[off] & 0x80) != 0) {
            throw new BundleException("unsupported archive: base-256 " + what + " field");
        }
        long v = 0;
        int i = off;
        int end = off + len;
        while (i < end && (h[i] == ' ' || h[i] == 0)) {
            i++;
        }
        boolean any = false;
        for (; i < end && h[i] >= '0' && h[i] <= '7'; i++) {
            v = v * 8 + (h[i] - '0');
            any = true;
        }
        for (; i < end; i++) {
            if (h[i] != ' ' && h[i] != 0) {
                throw new BundleException("corrupt archive: bad " + what + " field");
            }
        }
        if (!any && !what.equals("mode")) {
            throw new BundleException("corrupt archive: empty " + what + " field");
        }
        return v;
    }
}
