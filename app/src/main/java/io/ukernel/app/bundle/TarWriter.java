package io.ukernel.app.bundle;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes a POSIX ustar archive with normalised metadata: owner 0:0 with empty names, one fixed mtime, the mode
 * the caller gives. The caller chooses the entry order. The archive ends with two zero blocks and is padded to
 * a whole 10240-byte record, as tar(1) does.
 */
final class TarWriter {
    static final int BLOCK = 512;
    private static final int RECORD = 20 * BLOCK;

    private final OutputStream out;
    private final long mtime;
    private long written;

    TarWriter(OutputStream out, long mtime) {
        this.out = out;
        this.mtime = mtime;
    }

    void directory(String name, int mode) throws IOException {
        header(name.endsWith("/") ? name : name + "/", mode, 0, '5');
    }

    void file(String name, int mode, byte[] content) throws IOException {
        header(name, mode, content.length, '0');
        write(content);
        pad();
    }

    void finish() throws IOException {
        write(new byte[2 * BLOCK]);
        long rest = (RECORD - written % RECORD) % RECORD;
        write(new byte[(int) rest]);
        out.flush();
    }

    private void header(String name, int mode, long size, char type) throws IOException {
        byte[] h = new byte[BLOCK];
        byte[] full = name.getBytes(StandardCharsets.UTF_8);
        int split = split(full);
        if (split < 0) {
            throw new BundleException(name + ": path too long for a ustar archive (at most 255 bytes, with a '/'"
                    + " splitting it into 155 + 100)");
        }
        System.arraycopy(full, split == 0 ? 0 : split + 1, h, 0, full.length - (split == 0 ? 0 : split + 1));
        octal(h, 100, 8, mode);
        octal(h, 108, 8, 0); // uid
        octal(h, 116, 8, 0); // gid
        octal(h, 124, 12, size);
        octal(h, 136, 12, mtime);
        h[156] = (byte) type;
        System.arraycopy("ustar\0".getBytes(StandardCharsets.US_ASCII), 0, h, 257, 6);
        h[263] = '0';
        h[264] = '0';
        octal(h, 329, 8, 0); // devmajor
        octal(h, 337, 8, 0); // devminor
        if (split > 0) {
            System.arraycopy(full, 0, h, 345, split);
        }
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        byte[] chk = "%06o\0 ".formatted(sum).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(chk, 0, h, 148, 8);
        write(h);
    }

    /** 0 if the name fits the name field alone, else the index of the '/' that splits prefix and name; -1 if none. */
    private static int split(byte[] name) {
        if (name.length <= 100) {
            return 0;
        }
        for (int i = Math.min(155, name.length - 1); i > 0; i--) {
            if (name[i] == '/' && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
                return i;
            }
        }
        return -1;
    }

    private static void octal(byte[] h, int off, int len, long value) {
        String s = Long.toOctalString(value);
        if (s.length() > len - 1) {
            throw new IllegalArgumentException("value " + value + " does not fit a " + len + "-byte tar field");
        }
        String padded = "0".repeat(len - 1 - s.length()) + s;
        System.arraycopy(padded.getBytes(StandardCharsets.US_ASCII), 0, h, off, len - 1);
        h[off + len - 1] = 0;
    }

    private void pad() throws IOException {
        long rest = (BLOCK - written % BLOCK) % BLOCK;
        write(new byte[(int) rest]);
    }

    private void write(byte[] b) throws IOException {
        out.write(b);
        written += b.length;
    }
}
