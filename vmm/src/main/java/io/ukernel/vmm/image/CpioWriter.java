package io.ukernel.vmm.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * Writes a {@code cpio} archive in the "new ASCII" ({@code newc}) format, the one Linux unpacks as an initramfs.
 * Reproducible by construction: inode numbers count up from 1 in write order, every entry has the same mtime,
 * uid and gid are 0, and nothing is read from the host but the content. Parent directories are written before
 * their children as needed (the kernel does not create them), each once. Not thread-safe.
 */
final class CpioWriter implements AutoCloseable {
    static final int S_IFDIR = 0040000;
    static final int S_IFREG = 0100000;
    static final int S_IFLNK = 0120000;
    static final int S_IFCHR = 0020000;
    private static final byte[] ZEROS = new byte[4];

    private final OutputStream out;
    private final long mtime;
    private final Set<String> written = new HashSet<>();
    private int inode = 1;
    private long offset;
    private boolean finished;

    /**
     * @param out   where the archive goes (not closed by {@link #finish})
     * @param mtime the modification time of every entry, seconds since the epoch
     */
    CpioWriter(OutputStream out, long mtime) {
        this.out = out;
        this.mtime = mtime;
    }

    /** A directory (and its missing parents). */
    void directory(String name, int perm) throws IOException {
        String n = clean(name);
        if (written.contains(n)) {
            return;
        }
        parents(n);
        header(n, S_IFDIR | perm, 2, 0, 0, 0);
        written.add(n);
    }

    /** A regular file holding {@code data}. */
    void file(String name, int perm, byte[] data) throws IOException {
        String n = begin(name);
        header(n, S_IFREG | perm, 1, data.length, 0, 0);
        write(data, data.length);
        pad();
    }

    /** A regular file with the content of {@code source} (read now, streamed). */
    void file(String name, int perm, Path source) throws IOException {
        String n = begin(name);
        long size = Files.size(source);
        header(n, S_IFREG | perm, 1, size, 0, 0);
        long copied = 0;
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(source)) {
            for (int r; copied < size && (r = in.read(buf, 0, (int) Math.min(buf.length, size - copied))) > 0; ) {
                write(buf, r);
                copied += r;
            }
        }
        if (copied != size) {
            throw new IOException(source + " changed size while it was being packed");
        }
        pad();
    }

    /** A symbolic link to {@code target}. */
    void symlink(String name, String target) throws IOException {
        String n = begin(name);
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        header(n, S_IFLNK | 0777, 1, t.length, 0, 0);
        write(t, t.length);
        pad();
    }

    /** A character device node (no root needed: it is only bytes in the archive). */
    void charDevice(String name, int perm, int major, int minor) throws IOException {
        String n = begin(name);
        header(n, S_IFCHR | perm, 1, 0, major, minor);
    }

    /** Whether an entry of that name was written. */
    boolean contains(String name) {
        return written.contains(clean(name));
    }

    /** Bytes written so far. */
    long offset() {
        return offset;
    }

    /** Writes the trailer; the archive is complete. */
    void finish() throws IOException {
        if (!finished) {
            header("TRAILER!!!", 0, 1, 0, 0, 0);
            finished = true;
        }
    }

    @Override
    public void close() throws IOException {
        finish();
    }

    private String begin(String name) throws IOException {
        String n = clean(name);
        if (!written.add(n)) {
            throw new IllegalStateException("duplicate entry " + n);
        }
        parents(n);
        return n;
    }

    private void parents(String n) throws IOException {
        int slash = n.lastIndexOf('/');
        if (slash > 0) {
            directory(n.substring(0, slash), 0755);
        }
    }

    private static String clean(String name) {
        String n = name;
        while (n.startsWith("/")) {
            n = n.substring(1);
        }
        if (n.isEmpty() || n.endsWith("/") || n.contains("//") || n.equals("..") || n.startsWith("../")
                || n.contains("/../") || n.endsWith("/..")) {
            throw new IllegalArgumentException("bad archive path \"" + name + "\"");
        }
        return n;
    }

    private void header(String name, int mode, int nlink, long size, int rdevMajor, int rdevMinor)
            throws IOException {
        if (size > 0xFFFF_FFFFL) {
            throw new IOException(name + ": larger than 4 GiB, which cpio newc cannot hold");
        }
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(110);
        h.append("070701");
        long ino = name.equals("TRAILER!!!") ? 0 : inode++;
        for (long v : new long[] {ino, mode, 0, 0, nlink, mtime, size, 0, 0, rdevMajor, rdevMinor, n.length + 1, 0}) {
            h.append(String.format("%08x", v));
        }
        byte[] hb = h.toString().getBytes(StandardCharsets.US_ASCII);
        write(hb, hb.length);
        write(n, n.length);
        write(new byte[] {0}, 1);
        pad();
    }

    private void write(byte[] b, int len) throws IOException {
        out.write(b, 0, len);
        offset += len;
    }

    private void pad() throws IOException {
        int rem = (int) (offset % 4);
        if (rem != 0) {
            write(ZEROS, 4 - rem);
        }
    }
}
