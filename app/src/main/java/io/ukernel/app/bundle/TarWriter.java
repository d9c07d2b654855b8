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
    static final int BLOCK = UstarHeader.BLOCK;
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
        byte[] full = name.getBytes(StandardCharsets.UTF_8);
        if (UstarHeader.split(full) < 0) {
            throw new BundleException(name + ": path too long for a ustar archive (at most 255 bytes, with a '/'"
                    + " splitting it into 155 + 100)");
        }
        write(UstarHeader.block(full, mode, 0, 0, size, mtime, type, new byte[0]));
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
