package io.ukernel.kernel.io;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.ukernel.abi.Event;
import io.ukernel.abi.StatKind;
import io.ukernel.kernel.poll.Waitable;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An open host file (or directory) behind a {@code file} handle. Reads and writes are done inline, on the
 * reactor thread: a regular file never makes a caller wait, so its signals are always READABLE|WRITABLE. The
 * price is that a slow disk stalls the reactor for as long as the host call takes (acceptable for v1; see §10).
 * Closing it closes the descriptor. Reactor thread only.
 */
public final class OpenFile extends Waitable {
    private final boolean readable;
    private final boolean writable;
    /** Native staging buffer shared by the files of one {@link Preopens} (one thread, one call at a time). */
    private final MemorySegment scratch;
    private int fd;

    OpenFile(int fd, boolean readable, boolean writable, MemorySegment scratch) {
        this.fd = fd;
        this.readable = readable;
        this.writable = writable;
        this.scratch = scratch;
        signals(Event.READABLE.bit() | Event.WRITABLE.bit());
    }

    /** Whether it was opened with {@code READ}. */
    public boolean readable() {
        return readable;
    }

    /** Whether it was opened with {@code WRITE}. */
    public boolean writable() {
        return writable;
    }

    /** Reads up to {@code max} bytes (at most the staging buffer) at the position; empty at end of file. */
    public byte[] read(int max) throws ErrnoException {
        long n = Math.min(max, scratch.byteSize());
        long r;
        do {
            r = Libc.read(fd, scratch, n);
        } while (r == -Libc.EINTR);
        if (r < 0) {
            throw new ErrnoException((int) -r, "read");
        }
        return scratch.asSlice(0, r).toArray(JAVA_BYTE);
    }

    /**
     * Writes all of {@code data}; when the host fails part way, returns the count written so far.
     *
     * @throws ErrnoException when the host failed before the first byte
     */
    public long write(byte[] data) throws ErrnoException {
        long done = 0;
        while (done < data.length) {
            int chunk = (int) Math.min(data.length - done, scratch.byteSize());
            MemorySegment.copy(data, (int) done, scratch, JAVA_BYTE, 0, chunk);
            for (long off = 0; off < chunk; ) {
                long r = Libc.write(fd, scratch.asSlice(off), chunk - off);
                if (r == -Libc.EINTR) {
                    continue;
                }
                if (r <= 0) {
                    if (done + off > 0) {
                        return done + off;
                    }
                    throw new ErrnoException(r == 0 ? Libc.EIO : (int) -r, "write");
                }
                off += r;
            }
            done += chunk;
        }
        return done;
    }

    /**
     * Moves the position.
     *
     * @param whence {@code 0} set, {@code 1} current, {@code 2} end (the ABI's values are the host's)
     * @return the new position
     */
    public long seek(long offset, int whence) throws ErrnoException {
        long r = Libc.lseek(fd, offset, whence);
        if (r < 0) {
            throw new ErrnoException((int) -r, "lseek");
        }
        return r;
    }

    /** Size, modification time and kind, from the open descriptor (not the name, which may have changed). */
    public FileStat stat() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Libc.STATX_SIZE, 8);
            int r = Libc.fstatx(fd, buf);
            if (r < 0) {
                throw new ErrnoException(-r, "statx");
            }
            int type = Short.toUnsignedInt(buf.get(JAVA_SHORT, Libc.STATX_MODE_OFFSET)) & Libc.S_IFMT;
            long mtimeNs = buf.get(JAVA_LONG, Libc.STATX_MTIME_OFFSET) * 1_000_000_000L
                    + Integer.toUnsignedLong(buf.get(JAVA_INT, Libc.STATX_MTIME_OFFSET + 8));
            StatKind kind = type == Libc.S_IFREG ? StatKind.FILE
                    : type == Libc.S_IFDIR ? StatKind.DIRECTORY : StatKind.OTHER;
            return new FileStat(buf.get(JAVA_LONG, Libc.STATX_SIZE_OFFSET), mtimeNs, kind);
        }
    }

    /** Whether the file is set-user-ID or set-group-ID (read from the open descriptor). */
    boolean setId() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Libc.STATX_SIZE, 8);
            int r = Libc.fstatx(fd, buf);
            if (r < 0) {
                throw new ErrnoException(-r, "statx");
            }
            return (Short.toUnsignedInt(buf.get(JAVA_SHORT, Libc.STATX_MODE_OFFSET)) & 06000) != 0;
        }
    }

    @Override
    public String kind() {
        return "file";
    }

    @Override
    protected void onClose() {
        Libc.close(fd);
        fd = -1;
    }
}
