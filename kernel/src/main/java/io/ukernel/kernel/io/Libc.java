package io.ukernel.kernel.io;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;

/**
 * The few libc functions the IO family needs, bound with the FFM API ({@code java.lang.foreign}) because the JDK
 * has no way to open a file relative to a directory descriptor without following symbolic links.
 *
 * <p>Every binding returns what the C function returns on success and <b>{@code -errno}</b> on failure, the way
 * the Linux syscall ABI does. errno is captured by the linker right after the call
 * ({@link Linker.Option#captureCallState}), so nothing the JVM does in between can clobber it. Linux only; the
 * {@code O_*} values that differ between architectures are chosen for x86_64 or aarch64. Thread-safe (the errno
 * buffer is per thread), though the kernel calls it from the reactor thread only.
 */
final class Libc {
    static final int AT_FDCWD = -100;
    static final int AT_EMPTY_PATH = 0x1000;

    static final int O_RDONLY = 0;
    static final int O_WRONLY = 1;
    static final int O_RDWR = 2;
    static final int O_CREAT = 0100;
    static final int O_EXCL = 0200;
    static final int O_NOCTTY = 0400;
    static final int O_TRUNC = 01000;
    static final int O_APPEND = 02000;
    static final int O_NONBLOCK = 04000;
    static final int O_CLOEXEC = 02000000;
    static final int O_PATH = 010000000;
    private static final boolean AARCH64 = System.getProperty("os.arch").equals("aarch64");
    static final int O_DIRECTORY = AARCH64 ? 040000 : 0200000;
    static final int O_NOFOLLOW = AARCH64 ? 0100000 : 0400000;

    /** {@code openat2(2)}: the same number on every architecture (added after the syscall tables were unified). */
    static final long SYS_OPENAT2 = 437;
    /** {@code open_how.resolve}: no magic links ({@code /proc/self/fd/N}) on the way. */
    static final long RESOLVE_NO_MAGICLINKS = 0x02;
    /** {@code open_how.resolve}: refuse (EXDEV) anything that would leave the directory: "..", absolute links. */
    static final long RESOLVE_BENEATH = 0x08;

    static final int SEEK_SET = 0;
    static final int SEEK_CUR = 1;
    static final int SEEK_END = 2;

    static final int S_IFMT = 0170000;
    static final int S_IFREG = 0100000;
    static final int S_IFDIR = 0040000;

    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int EINTR = 4;
    static final int EIO = 5;
    static final int ENXIO = 6;
    static final int EBADF = 9;
    static final int EAGAIN = 11;
    static final int EACCES = 13;
    static final int EEXIST = 17;
    static final int EXDEV = 18;
    static final int ENOTDIR = 20;
    static final int EISDIR = 21;
    static final int EINVAL = 22;
    static final int EMFILE = 24;
    static final int EFBIG = 27;
    static final int ENOSPC = 28;
    static final int ESPIPE = 29;
    static final int EROFS = 30;
    static final int ENAMETOOLONG = 36;
    static final int ENOSYS = 38;
    static final int ELOOP = 40;
    static final int EOVERFLOW = 75;

    /** {@code struct statx} (the same layout on every architecture, unlike {@code struct stat}). */
    static final long STATX_SIZE = 256;
    static final long STATX_MODE_OFFSET = 28;
    static final long STATX_SIZE_OFFSET = 40;
    static final long STATX_MTIME_OFFSET = 112;
    /** {@code STATX_TYPE | STATX_MODE | STATX_SIZE | STATX_MTIME}. */
    private static final int STATX_MASK = 0x1 | 0x2 | 0x200 | 0x40;

    private static final int PATH_MAX = 4096;

    /**
     * The downcall handles, bound on first use rather than when the kernel boots: binding costs tens of
     * milliseconds, and an app without preopens never needs them.
     */
    private static final class Native {
        private static final Linker LINKER = Linker.nativeLinker();
        private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
        private static final long ERRNO_OFFSET = CAPTURE.byteOffset(MemoryLayout.PathElement.groupElement("errno"));
        private static final ThreadLocal<MemorySegment> STATE =
                ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

        /** {@code long syscall(long number, ...)}, used for {@code openat2(dirfd, path, &how, sizeof how)}. */
        private static final MethodHandle SYSCALL4 = bind("syscall",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG), 1);
        /** {@code int openat(int dirfd, const char *path, int flags, ...)}: the mode is the variadic argument. */
        private static final MethodHandle OPENAT = bind("openat",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), 3);
        /** {@code ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)}. */
        private static final MethodHandle READLINKAT = bind("readlinkat",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), -1);
        /** {@code ssize_t read(int fd, void *buf, size_t n)}. */
        private static final MethodHandle READ = bind("read",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), -1);
        /** {@code ssize_t write(int fd, const void *buf, size_t n)}. */
        private static final MethodHandle WRITE = bind("write",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), -1);
        /** {@code off_t lseek(int fd, off_t offset, int whence)}. */
        private static final MethodHandle LSEEK = bind("lseek",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT), -1);
        /** {@code int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf)}. */
        private static final MethodHandle STATX = bind("statx",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS), -1);
        /** {@code int close(int fd)}. */
        private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);

        /** Binds {@code name} with errno capture; {@code firstVariadic} is the index of the first {@code ...} argument. */
        @SuppressWarnings("restricted") // the launcher and surefire pass --enable-native-access=ALL-UNNAMED
        private static MethodHandle bind(String name, FunctionDescriptor fd, int firstVariadic) {
            MemorySegment symbol = LINKER.defaultLookup().find(name)
                    .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
            Linker.Option errno = Linker.Option.captureCallState("errno");
            return firstVariadic < 0 ? LINKER.downcallHandle(symbol, fd, errno)
                    : LINKER.downcallHandle(symbol, fd, errno, Linker.Option.firstVariadicArg(firstVariadic));
        }
    }

    private Libc() {}


    private static long result(long r, MemorySegment state) {
        return r >= 0 ? r : -state.get(JAVA_INT, Native.ERRNO_OFFSET);
    }

    private static AssertionError bug(Throwable t) {
        return new AssertionError("FFM downcall failed", t);
    }

    /**
     * {@code openat2(dirfd, path, {flags, mode, resolve})}: opens {@code path} relative to {@code dirfd} with the
     * path-resolution restrictions {@code resolve}. {@code mode} must be 0 unless {@code flags} has O_CREAT.
     *
     * @return the new fd, or {@code -errno} ({@code -ENOSYS} on kernels before 5.6)
     */
    static int openat2(int dirfd, String path, long flags, long mode, long resolve) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment how = arena.allocate(JAVA_LONG, 3);
            how.setAtIndex(JAVA_LONG, 0, flags);
            how.setAtIndex(JAVA_LONG, 1, mode);
            how.setAtIndex(JAVA_LONG, 2, resolve);
            MemorySegment state = Native.STATE.get();
            long r = (long) Native.SYSCALL4.invokeExact(state, SYS_OPENAT2, (long) dirfd, arena.allocateFrom(path), how,
                    how.byteSize());
            return (int) result(r, state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /**
     * {@code openat(dirfd, path, flags, mode)}.
     *
     * @return the new fd, or {@code -errno}
     */
    static int openat(int dirfd, String path, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Native.STATE.get();
            int r = (int) Native.OPENAT.invokeExact(state, dirfd, arena.allocateFrom(path), flags, mode);
            return (int) result(r, state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /**
     * {@code readlinkat(dirfd, path)}: the target of the symbolic link {@code path} (not followed).
     *
     * @return the target (UTF-8, malformed bytes replaced), or null when {@code path} is not a symbolic link or
     *     cannot be read
     */
    static String readlinkat(int dirfd, String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(PATH_MAX);
            long n = (long) Native.READLINKAT.invokeExact(Native.STATE.get(), dirfd, arena.allocateFrom(path), buf,
                    (long) PATH_MAX);
            if (n < 0 || n >= PATH_MAX) {
                return null;
            }
            return new String(buf.asSlice(0, n).toArray(JAVA_BYTE), StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /**
     * {@code read(fd, buf, n)}.
     *
     * @return bytes read (0 at end of file), or {@code -errno}
     */
    static long read(int fd, MemorySegment buf, long n) {
        try {
            MemorySegment state = Native.STATE.get();
            return result((long) Native.READ.invokeExact(state, fd, buf, n), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /**
     * {@code write(fd, buf, n)}.
     *
     * @return bytes written, or {@code -errno}
     */
    static long write(int fd, MemorySegment buf, long n) {
        try {
            MemorySegment state = Native.STATE.get();
            return result((long) Native.WRITE.invokeExact(state, fd, buf, n), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /**
     * {@code lseek(fd, offset, whence)}.
     *
     * @return the new offset, or {@code -errno}
     */
    static long lseek(int fd, long offset, int whence) {
        try {
            MemorySegment state = Native.STATE.get();
            return result((long) Native.LSEEK.invokeExact(state, fd, offset, whence), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /**
     * {@code statx(fd, "", AT_EMPTY_PATH, TYPE|MODE|SIZE|MTIME, buf)}: the status of an open fd, into {@code buf}
     * ({@link #STATX_SIZE} bytes; read it at the {@code STATX_*_OFFSET}s).
     *
     * @return 0, or {@code -errno}
     */
    static int fstatx(int fd, MemorySegment buf) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Native.STATE.get();
            int r = (int) Native.STATX.invokeExact(state, fd, arena.allocateFrom(""), AT_EMPTY_PATH, STATX_MASK, buf);
            return (int) result(r, state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /**
     * {@code close(fd)}.
     *
     * @return 0, or {@code -errno} (the fd is released either way on Linux)
     */
    static int close(int fd) {
        try {
            MemorySegment state = Native.STATE.get();
            return (int) result((int) Native.CLOSE.invokeExact(state, fd), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /** The symbolic name of an errno value for messages, e.g. {@code EXDEV}. */
    static String errnoName(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case EINTR -> "EINTR";
            case EIO -> "EIO";
            case ENXIO -> "ENXIO";
            case EBADF -> "EBADF";
            case EAGAIN -> "EAGAIN";
            case EACCES -> "EACCES";
            case EEXIST -> "EEXIST";
            case EXDEV -> "EXDEV";
            case ENOTDIR -> "ENOTDIR";
            case EISDIR -> "EISDIR";
            case EINVAL -> "EINVAL";
            case EMFILE -> "EMFILE";
            case EFBIG -> "EFBIG";
            case ENOSPC -> "ENOSPC";
            case ESPIPE -> "ESPIPE";
            case EROFS -> "EROFS";
            case ENAMETOOLONG -> "ENAMETOOLONG";
            case ENOSYS -> "ENOSYS";
            case ELOOP -> "ELOOP";
            case EOVERFLOW -> "EOVERFLOW";
            default -> "errno " + errno;
        };
    }
}
