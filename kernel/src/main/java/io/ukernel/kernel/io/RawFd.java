package io.ukernel.kernel.io;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.channels.SelectableChannel;

/**
 * Host descriptors for ABI 1.1's granted sockets: the number behind a {@code java.nio} channel, a duplicate the
 * kernel owns until it is sent, and {@code sendmsg(2)} with {@code SCM_RIGHTS} to pass it to a worker.
 *
 * <p><b>Why a JDK internal.</b> The JDK gives no public way to learn the descriptor of a {@link SelectableChannel};
 * every channel the JDK makes implements {@code sun.nio.ch.SelChImpl#getFDVal()}. That package is not exported, so
 * every JVM that runs the kernel is started with {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED} (the
 * {@code ukernel} launcher, {@code HostClient}, {@code ImageBuilder} and {@code OciPacker}, surefire's argLine).
 * This class is the only place that reaches in; without the flag {@link #available()} is false and the kernel refuses direct
 * sockets with a line saying so (the buffered path is unaffected). The channel keeps owning its descriptor: callers
 * use the number only while the channel is open, on the reactor thread, and send a {@link #dup} of it.
 *
 * <p>Bindings return what the C function returns, or {@code -errno} (as {@link Libc} does). x86_64 and aarch64
 * share the {@code struct msghdr} / {@code struct cmsghdr} layouts used here.
 */
public final class RawFd {
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int F_DUPFD_CLOEXEC = 1030;
    private static final int SHUT_RDWR = 2;
    /** The errno of a full non-blocking socket. */
    public static final int EAGAIN = 11;
    /** {@code struct msghdr}: name, namelen (+pad), iov, iovlen, control, controllen, flags (+pad). */
    private static final long MSGHDR_SIZE = 56;
    /** {@code CMSG_LEN(sizeof(int))}. */
    private static final long CMSG_LEN_ONE_FD = 20;

    private static final Method GET_FD_VAL = findGetFdVal();

    private RawFd() {}

    private static Method findGetFdVal() {
        try {
            Method m = Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal");
            m.invoke(java.nio.channels.Pipe.open().sink()); // fails here, not later, without --add-exports
            return m;
        } catch (ReflectiveOperationException | RuntimeException | java.io.IOException e) {
            return null;
        }
    }

    /** Whether the JVM was started with {@code --add-exports java.base/sun.nio.ch=ALL-UNNAMED}. */
    public static boolean available() {
        return GET_FD_VAL != null;
    }

    /** What to add to the JVM's command line when {@link #available()} is false. */
    public static final String MISSING = "this JVM cannot pass socket descriptors: start it with "
            + "--add-exports java.base/sun.nio.ch=ALL-UNNAMED (the ukernel launcher does)";

    /** The host descriptor of an open channel; only valid while it stays open. */
    public static int of(SelectableChannel ch) {
        if (GET_FD_VAL == null) {
            throw new IllegalStateException(MISSING);
        }
        try {
            return (int) GET_FD_VAL.invoke(ch);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read the descriptor of " + ch, e);
        }
    }

    private static final class Native {
        private static final Linker LINKER = Linker.nativeLinker();
        private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
        private static final long ERRNO_OFFSET = CAPTURE.byteOffset(MemoryLayout.PathElement.groupElement("errno"));
        private static final ThreadLocal<MemorySegment> STATE =
                ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));
        private static final MethodHandle SENDMSG = bind("sendmsg",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), -1);
        private static final MethodHandle FCNTL = bind("fcntl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), 2);
        private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), -1);
        private static final MethodHandle SHUTDOWN = bind("shutdown",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), -1);

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

    /** A close-on-exec duplicate of {@code fd} (the same open socket), or {@code -errno}. */
    public static int dup(int fd) {
        try {
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.FCNTL.invokeExact(state, fd, F_DUPFD_CLOEXEC, 0), state);
        } catch (Throwable t) {
            throw new AssertionError("FFM downcall failed", t);
        }
    }

    /** {@code close(fd)}: 0 or {@code -errno}. */
    public static int close(int fd) {
        try {
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.CLOSE.invokeExact(state, fd), state);
        } catch (Throwable t) {
            throw new AssertionError("FFM downcall failed", t);
        }
    }

    /** {@code shutdown(fd, SHUT_RDWR)}: 0 or {@code -errno}. */
    public static int shutdown(int fd) {
        try {
            MemorySegment state = Native.STATE.get();
            return (int) Native.result((int) Native.SHUTDOWN.invokeExact(state, fd, SHUT_RDWR), state);
        } catch (Throwable t) {
            throw new AssertionError("FFM downcall failed", t);
        }
    }

    /**
     * {@code sendmsg(socket, bytes, SCM_RIGHTS [pass])}, non-blocking: writes from {@code buf}'s position up to its
     * limit, with {@code pass} attached (the kernel attaches it to the first byte written).
     *
     * @return bytes written (the position is advanced), or {@code -errno} ({@code -EAGAIN}: full, nothing sent)
     */
    public static long sendWithFd(int socket, ByteBuffer buf, int pass) {
        return sendWithFds(socket, buf, new int[] {pass}, true);
    }

    /**
     * {@code sendmsg(socket, bytes, SCM_RIGHTS [pass...])}: as {@link #sendWithFd} with several descriptors in one
     * message; {@code dontWait} false blocks on a blocking socket until some bytes are written.
     */
    public static long sendWithFds(int socket, ByteBuffer buf, int[] pass, boolean dontWait) {
        try (Arena arena = Arena.ofConfined()) {
            int n = buf.remaining();
            MemorySegment data = arena.allocate(Math.max(n, 1));
            MemorySegment.copy(MemorySegment.ofBuffer(buf), 0, data, 0, n);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, data);
            iov.set(JAVA_LONG, 8, n);
            long len = CMSG_LEN_ONE_FD - 4 + 4L * pass.length;   // CMSG_LEN(n * sizeof(int))
            long space = (len + 7) & ~7L;                       // CMSG_SPACE: padded to 8
            MemorySegment control = arena.allocate(space, 8);
            control.set(JAVA_LONG, 0, len);
            control.set(JAVA_INT, 8, SOL_SOCKET);
            control.set(JAVA_INT, 12, SCM_RIGHTS);
            for (int i = 0; i < pass.length; i++) {
                control.set(JAVA_INT, 16 + 4L * i, pass[i]);
            }
            MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
            msg.set(ADDRESS, 16, iov);
            msg.set(JAVA_LONG, 24, 1);
            msg.set(ADDRESS, 32, control);
            msg.set(JAVA_LONG, 40, space);
            MemorySegment state = Native.STATE.get();
            long r = Native.result((long) Native.SENDMSG.invokeExact(state, socket, msg,
                    (dontWait ? MSG_DONTWAIT : 0) | MSG_NOSIGNAL), state);
            if (r > 0) {
                buf.position(buf.position() + (int) r);
            }
            return r;
        } catch (Throwable t) {
            throw new AssertionError("FFM downcall failed", t);
        }
    }
}
