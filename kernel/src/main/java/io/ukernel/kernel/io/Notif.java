package io.ukernel.kernel.io;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * The host calls of the seccomp user-notification supervisor ({@code io.ukernel.kernel.net.SocketSupervisor}):
 * the {@code SECCOMP_IOCTL_NOTIF_*} requests, {@code pidfd_open}/{@code pidfd_getfd}, {@code poll}, and plain socket
 * calls on raw descriptors, bound with the FFM API. x86_64 numbers and layouts (the filter exists for x86_64 only).
 * Every binding returns what the C function returns, or {@code -errno}.
 */
public final class Notif {
    /** {@code struct seccomp_notif}: id u64, pid u32, flags u32, data {nr i32, arch u32, ip u64, args u64[6]}. */
    public static final long NOTIF_SIZE = 80;
    /** {@code struct seccomp_notif_resp}: id u64, val s64, error s32, flags u32. */
    private static final long RESP_SIZE = 24;
    /** {@code struct seccomp_notif_addfd}: id u64, flags u32, srcfd u32, newfd u32, newfd_flags u32. */
    private static final long ADDFD_SIZE = 24;
    private static final long IOCTL_RECV = 0xC0502100L; // _IOWR('!', 0, struct seccomp_notif)
    private static final long IOCTL_SEND = 0xC0182101L; // _IOWR('!', 1, struct seccomp_notif_resp)
    private static final long IOCTL_ID_VALID = 0x40082102L; // _IOW('!', 2, __u64)
    private static final long IOCTL_ADDFD = 0x40182103L; // _IOW('!', 3, struct seccomp_notif_addfd)
    private static final int ADDFD_FLAG_SETFD = 1;
    private static final int ADDFD_FLAG_SEND = 2;
    private static final long SYS_PIDFD_OPEN = 434;
    private static final long SYS_PIDFD_GETFD = 438;

    public static final int O_CLOEXEC = 02000000;
    public static final int O_NONBLOCK = 04000;
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_NONBLOCK = 04000;
    public static final int SOCK_CLOEXEC = 02000000;
    public static final int SOL_SOCKET = 1;
    public static final int SO_TYPE = 3;
    public static final int SO_ERROR = 4;
    public static final int SO_DOMAIN = 39;
    public static final int POLLIN = 1;
    public static final int POLLOUT = 4;
    public static final int POLLERR = 8;
    public static final int POLLHUP = 16;
    public static final int POLLNVAL = 32;

    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int EFAULT = 14;
    public static final int EINVAL = 22;
    public static final int EMFILE = 24;
    public static final int ENOTSOCK = 88;
    public static final int EAFNOSUPPORT = 97;
    public static final int EADDRNOTAVAIL = 99;
    public static final int ENOBUFS = 105;
    public static final int EISCONN = 106;
    public static final int ENOTCONN = 107;
    public static final int EINPROGRESS = 115;

    private Notif() {}

    private static final class Native {
        private static final Linker LINKER = Linker.nativeLinker();
        private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
        private static final long ERRNO_OFFSET = CAPTURE.byteOffset(MemoryLayout.PathElement.groupElement("errno"));
        private static final ThreadLocal<MemorySegment> STATE =
                ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));
        private static final MethodHandle IOCTL = bind("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), 2);
        private static final MethodHandle SYSCALL3 = bind("syscall",
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), 1);
        private static final MethodHandle POLL = bind("poll",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), -1);
        private static final MethodHandle SOCKET = bind("socket",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), -1);
        private static final MethodHandle CONNECT = bind("connect",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), -1);
        private static final MethodHandle BIND = bind("bind",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), -1);
        private static final MethodHandle LISTEN = bind("listen",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), -1);
        private static final MethodHandle ACCEPT4 = bind("accept4",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), -1);
        private static final MethodHandle GETSOCKOPT = bind("getsockopt",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), -1);
        private static final MethodHandle SETSOCKOPT = bind("setsockopt",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), -1);
        private static final MethodHandle GETSOCKNAME = bind("getsockname",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), -1);
        private static final MethodHandle GETPEERNAME = bind("getpeername",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), -1);
        private static final MethodHandle FCNTL = bind("fcntl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), 2);
        private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);
        private static final MethodHandle PREAD = bind("pread",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), -1);
        private static final MethodHandle PWRITE = bind("pwrite",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), -1);
        private static final MethodHandle OPEN = bind("open",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), -1);

        @SuppressWarnings("restricted") // the launcher and surefire pass --enable-native-access=ALL-UNNAMED
        private static MethodHandle bind(String name, FunctionDescriptor fd, int firstVariadic) {
            MemorySegment symbol = LINKER.defaultLookup().find(name)
                    .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
            Linker.Option errno = Linker.Option.captureCallState("errno");
            return firstVariadic < 0 ? LINKER.downcallHandle(symbol, fd, errno)
                    : LINKER.downcallHandle(symbol, fd, errno, Linker.Option.firstVariadicArg(firstVariadic));
        }

        static long result(long r, MemorySegment state) {
            return r >= 0 ? r : -state.get(JAVA_INT, ERRNO_OFFSET);
        }
    }

    private static AssertionError bug(Throwable t) {
        return new AssertionError("FFM downcall failed", t);
    }

    /** Whether this host can run the supervisor: x86_64 Linux, and the bindings load. */
    public static boolean available() {
        if (!System.getProperty("os.arch").equals("amd64") || !System.getProperty("os.name").equals("Linux")) {
            return false;
        }
        try {
            return Native.IOCTL != null;
        } catch (LinkageError | RuntimeException e) {
            return false;
        }
    }

    private static int ioctl(int fd, long request, MemorySegment arg) {
        try {
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.IOCTL.invokeExact(state, fd, request, arg), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    private static long syscall3(long nr, long a, long b, long c) {
        try {
            MemorySegment state = Native.STATE.get();
            return Native.result((long) Native.SYSCALL3.invokeExact(state, nr, a, b, c), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /** One received notification. */
    public record Request(long id, int pid, int nr, long[] args) {}

    /** {@code SECCOMP_IOCTL_NOTIF_RECV} into {@code buf} ({@link #NOTIF_SIZE} bytes): the request, or null (errno). */
    public static Request recv(int listener, MemorySegment buf, int[] errno) {
        buf.fill((byte) 0); // the kernel refuses a buffer that is not zeroed
        int r = ioctl(listener, IOCTL_RECV, buf);
        if (r < 0) {
            errno[0] = -r;
            return null;
        }
        long[] args = new long[6];
        for (int i = 0; i < 6; i++) {
            args[i] = buf.get(JAVA_LONG, 32 + 8L * i);
        }
        return new Request(buf.get(JAVA_LONG, 0), buf.get(JAVA_INT, 8), buf.get(JAVA_INT, 16), args);
    }

    /** {@code SECCOMP_IOCTL_NOTIF_SEND}: the call returns {@code val}, or fails with {@code errno} when nonzero. */
    public static int send(int listener, long id, long val, int errno) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment resp = arena.allocate(RESP_SIZE, 8);
            resp.set(JAVA_LONG, 0, id);
            resp.set(JAVA_LONG, 8, errno == 0 ? val : 0);
            resp.set(JAVA_INT, 16, errno == 0 ? 0 : -errno);
            resp.set(JAVA_INT, 20, 0); // never SECCOMP_USER_NOTIF_FLAG_CONTINUE
            return ioctl(listener, IOCTL_SEND, resp);
        }
    }

    /** {@code SECCOMP_IOCTL_NOTIF_ID_VALID}: whether the notification is still pending (the caller still waits). */
    public static boolean valid(int listener, long id) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(JAVA_LONG);
            p.set(JAVA_LONG, 0, id);
            return ioctl(listener, IOCTL_ID_VALID, p) == 0;
        }
    }

    /**
     * {@code SECCOMP_IOCTL_NOTIF_ADDFD}: installs a copy of {@code srcfd} in the caller's process, at {@code newfd}
     * (replacing what is there) when {@code newfd >= 0}, else at the lowest free number; with {@code send}, the
     * call also returns that number to the caller (atomically). Returns the number, or {@code -errno}.
     */
    public static int addfd(int listener, long id, int srcfd, int newfd, boolean send) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(ADDFD_SIZE, 8);
            a.set(JAVA_LONG, 0, id);
            a.set(JAVA_INT, 8, (newfd >= 0 ? ADDFD_FLAG_SETFD : 0) | (send ? ADDFD_FLAG_SEND : 0));
            a.set(JAVA_INT, 12, srcfd);
            a.set(JAVA_INT, 16, Math.max(newfd, 0));
            a.set(JAVA_INT, 20, O_CLOEXEC);
            return ioctl(listener, IOCTL_ADDFD, a);
        }
    }

    /** {@code pidfd_open(pid, 0)}: a pidfd, or {@code -errno}. */
    public static int pidfdOpen(long pid) {
        return (int) syscall3(SYS_PIDFD_OPEN, pid, 0, 0);
    }

    /** {@code pidfd_getfd(pidfd, fd, 0)}: a close-on-exec copy of the process's descriptor {@code fd}, or {@code -errno}. */
    public static int pidfdGetfd(int pidfd, int fd) {
        return (int) syscall3(SYS_PIDFD_GETFD, pidfd, fd, 0);
    }

    /**
     * {@code poll(fds, n, timeoutMs)} over {@code struct pollfd} entries (fd i32, events i16, revents i16) in
     * {@code fds}: the number ready, or {@code -errno}.
     */
    public static int poll(MemorySegment fds, int n, int timeoutMs) {
        try {
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.POLL.invokeExact(state, fds, (long) n, timeoutMs), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /** Sets entry {@code i} of a pollfd array. */
    public static void pollfd(MemorySegment fds, int i, int fd, int events) {
        fds.set(JAVA_INT, 8L * i, fd);
        fds.set(JAVA_SHORT, 8L * i + 4, (short) events);
        fds.set(JAVA_SHORT, 8L * i + 6, (short) 0);
    }

    /** The {@code revents} of entry {@code i}. */
    public static int revents(MemorySegment fds, int i) {
        return fds.get(JAVA_SHORT, 8L * i + 6) & 0xFFFF;
    }

    public static int socket(int domain, int type, int protocol) {
        try {
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.SOCKET.invokeExact(state, domain, type, protocol), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    public static int connect(int fd, byte[] sockaddr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(Math.max(sockaddr.length, 1), 8);
            MemorySegment.copy(sockaddr, 0, a, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, sockaddr.length);
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.CONNECT.invokeExact(state, fd, a, sockaddr.length), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    public static int bind(int fd, byte[] sockaddr) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(Math.max(sockaddr.length, 1), 8);
            MemorySegment.copy(sockaddr, 0, a, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, sockaddr.length);
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.BIND.invokeExact(state, fd, a, sockaddr.length), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    public static int listen(int fd, int backlog) {
        try {
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.LISTEN.invokeExact(state, fd, backlog), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /** {@code accept4(fd, &addr, &len, flags)}: the new descriptor, or {@code -errno}; the peer in {@code peer[0]}. */
    public static int accept4(int fd, int flags, byte[][] peer) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(128, 8);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 128);
            MemorySegment state = Native.STATE.get();
            int r = (int) Native.result((int) Native.ACCEPT4.invokeExact(state, fd, a, len, flags), state);
            if (r >= 0) {
                peer[0] = a.asSlice(0, Math.min(128, len.get(JAVA_INT, 0))).toArray(
                        java.lang.foreign.ValueLayout.JAVA_BYTE);
            }
            return r;
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /** An int option, or {@code Integer.MIN_VALUE + errno} on failure. */
    public static int getsockoptInt(int fd, int level, int name) {
        byte[] v = getsockopt(fd, level, name, 4);
        return v == null || v.length < 4 ? Integer.MIN_VALUE
                : (v[0] & 0xFF) | (v[1] & 0xFF) << 8 | (v[2] & 0xFF) << 16 | (v[3] & 0xFF) << 24;
    }

    /** The option's bytes (at most {@code max}), or null. */
    public static byte[] getsockopt(int fd, int level, int name, int max) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(max, 8);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, max);
            MemorySegment state = Native.STATE.get();
            int r = (int) Native.result((int) Native.GETSOCKOPT.invokeExact(state, fd, level, name, v, len), state);
            return r < 0 ? null : v.asSlice(0, Math.min(max, len.get(JAVA_INT, 0))).toArray(
                    java.lang.foreign.ValueLayout.JAVA_BYTE);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    public static int setsockopt(int fd, int level, int name, byte[] value) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(Math.max(value.length, 1), 8);
            MemorySegment.copy(value, 0, v, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, value.length);
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.SETSOCKOPT.invokeExact(state, fd, level, name, v, value.length),
                    state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /** {@code getsockname} ({@code peer} false) or {@code getpeername}: the address bytes, or null. */
    public static byte[] name(int fd, boolean peer) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(128, 8);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 128);
            MemorySegment state = Native.STATE.get();
            int r = (int) Native.result(peer ? (int) Native.GETPEERNAME.invokeExact(state, fd, a, len)
                    : (int) Native.GETSOCKNAME.invokeExact(state, fd, a, len), state);
            return r < 0 ? null : a.asSlice(0, Math.min(128, len.get(JAVA_INT, 0))).toArray(
                    java.lang.foreign.ValueLayout.JAVA_BYTE);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    public static int fcntl(int fd, int cmd, int arg) {
        try {
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.FCNTL.invokeExact(state, fd, cmd, arg), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    public static int close(int fd) {
        try {
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.CLOSE.invokeExact(state, fd), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /** {@code open(path, flags)}: a descriptor, or {@code -errno}. */
    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.OPEN.invokeExact(state, arena.allocateFrom(path), flags), state);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /**
     * Copies {@code n} bytes at {@code address} out of another process's memory ({@code memFd}: its
     * {@code /proc/<pid>/mem}); null when they cannot all be read (an unmapped address).
     */
    public static byte[] readMemory(int memFd, long address, int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(n, 1));
            MemorySegment state = Native.STATE.get();
            long r = Native.result((long) Native.PREAD.invokeExact(state, memFd, buf, (long) n, address), state);
            return r != n ? null : buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /** Writes {@code bytes} into another process's memory at {@code address}; false when not all were written. */
    public static boolean writeMemory(int memFd, long address, byte[] bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(bytes.length, 1));
            MemorySegment.copy(bytes, 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, bytes.length);
            MemorySegment state = Native.STATE.get();
            long r = Native.result((long) Native.PWRITE.invokeExact(state, memFd, buf, (long) bytes.length, address),
                    state);
            return r == bytes.length;
        } catch (Throwable t) {
            throw bug(t);
        }
    }

    /**
     * Destroys the TCP socket of this kernel's network namespace with the given identity ({@code sock_diag}
     * {@code SOCK_DESTROY}: Linux aborts it, the peer gets a reset, its holder's next call fails): {@code local} and
     * {@code peer} are sockaddrs ({@code peer} null for a listener), {@code cookie} its {@code SO_COOKIE}, so a socket
     * that ended and whose addresses another took is never hit. 0, or {@code -errno} ({@code -ENOENT}: no such
     * socket any more). Needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY.
     */
    public static int sockDestroy(byte[] local, byte[] peer, long cookie) {
        int family = (local[0] & 0xFF) | (local[1] & 0xFF) << 8;
        int nl = socket(16 /* AF_NETLINK */, 3 /* SOCK_RAW */ | 0x80000 /* SOCK_CLOEXEC */, 4 /* NETLINK_SOCK_DIAG */);
        if (nl < 0) {
            return nl;
        }
        try (Arena arena = Arena.ofConfined()) {
            java.nio.ByteBuffer m = java.nio.ByteBuffer.allocate(72).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            m.putInt(72).putShort((short) 21 /* SOCK_DESTROY */).putShort((short) (1 | 4) /* REQUEST | ACK */)
                    .putInt(1).putInt(0);
            m.put((byte) family).put((byte) 6 /* IPPROTO_TCP */).put((byte) 0).put((byte) 0).putInt(-1 /* states */);
            m.put(local, 2, 2).put(peer == null ? new byte[2] : java.util.Arrays.copyOfRange(peer, 2, 4));
            m.put(addr16(local, family)).put(peer == null ? new byte[16] : addr16(peer, family));
            m.putInt(0).putInt((int) cookie).putInt((int) (cookie >>> 32));
            MemorySegment buf = arena.allocate(512, 8);
            MemorySegment.copy(m.array(), 0, buf, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, 72);
            long w = syscall3(1 /* write */, nl, buf.address(), 72);
            if (w != 72) {
                return w < 0 ? (int) w : -EINVAL;
            }
            long r = syscall3(0 /* read */, nl, buf.address(), 512);
            if (r < 20) {
                return r < 0 ? (int) r : -EINVAL;
            }
            // NLMSG_ERROR (2): the error (0 or -errno) follows the header
            return buf.get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 4) == 2
                    ? buf.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 16) : -EINVAL;
        } finally {
            close(nl);
        }
    }

    private static byte[] addr16(byte[] sockaddr, int family) {
        return family == 2 ? java.util.Arrays.copyOf(java.util.Arrays.copyOfRange(sockaddr, 4, 8), 16)
                : java.util.Arrays.copyOfRange(sockaddr, 8, 24);
    }
}
