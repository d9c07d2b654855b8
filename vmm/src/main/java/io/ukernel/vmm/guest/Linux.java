package io.ukernel.vmm.guest;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The libc calls an init needs and the JDK lacks, bound with the FFM API: {@code mount}, {@code reboot},
 * {@code ioctl} (network interfaces), {@code finit_module}, {@code sethostname}, {@code sync}. Each throws an
 * {@link IOException} naming the call and {@code errno} on failure; errno is captured right after the call
 * ({@link Linker.Option#captureCallState}). x86-64 and aarch64 Linux (the constants used are the same on both,
 * except the syscall number of {@code finit_module}).
 */
final class Linux {
    static final long MS_NOSUID = 2;
    static final long MS_NODEV = 4;
    static final long MS_NOEXEC = 8;

    static final int LINUX_REBOOT_CMD_RESTART = 0x01234567;
    static final int LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC;
    /** Ctrl-Alt-Del sends SIGINT to init instead of rebooting at once. */
    static final int LINUX_REBOOT_CMD_CAD_OFF = 0;

    static final int AF_INET = 2;
    static final int SOCK_DGRAM = 2;
    static final int SOCK_CLOEXEC = 02000000;
    static final int O_RDONLY = 0;
    static final int O_CLOEXEC = 02000000;

    static final long SIOCADDRT = 0x890B;
    static final long SIOCGIFFLAGS = 0x8913;
    static final long SIOCSIFFLAGS = 0x8914;
    static final long SIOCSIFADDR = 0x8916;
    static final long SIOCSIFNETMASK = 0x891C;
    static final short IFF_UP = 0x1;
    static final short RTF_UP = 0x1;
    static final short RTF_GATEWAY = 0x2;

    static final int EBUSY = 16;
    static final int EEXIST = 17;

    private static final long SYS_FINIT_MODULE = System.getProperty("os.arch").equals("aarch64") ? 273 : 313;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(
            java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");

    private static final MethodHandle MOUNT = bind("mount",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle REBOOT = bind("reboot", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle SOCKET = bind("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT));
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle IOCTL = bind("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG,
            ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle OPEN = bind("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT,
            JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle SYSCALL3 = bind("syscall", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG,
            JAVA_LONG, ADDRESS, JAVA_LONG), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle SETHOSTNAME = bind("sethostname", FunctionDescriptor.of(JAVA_INT, ADDRESS,
            JAVA_LONG));
    private static final MethodHandle SYNC = LINKER.downcallHandle(LINKER.defaultLookup().find("sync").orElseThrow(),
            FunctionDescriptor.ofVoid());

    private Linux() {}

    private static MethodHandle bind(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] opts = new Linker.Option[extra.length + 1];
        opts[0] = CAPTURE;
        System.arraycopy(extra, 0, opts, 1, extra.length);
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, opts);
    }

    /** {@code mount(2)}; EBUSY (already mounted) is not an error. */
    static void mount(String source, String target, String fstype, long flags, String data) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            MemorySegment options = data == null ? MemorySegment.NULL : a.allocateFrom(data);
            int rc = (int) MOUNT.invokeExact(st, a.allocateFrom(source), a.allocateFrom(target), a.allocateFrom(fstype),
                    flags, options);
            check(rc, st, "mount " + fstype + " on " + target, EBUSY);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code reboot(2)}: does not return for RESTART and POWER_OFF. */
    static void reboot(int cmd) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int rc = (int) REBOOT.invokeExact(st, cmd);
            check(rc, st, "reboot", -1);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code sync(2)}. */
    static void sync() {
        try {
            SYNC.invokeExact();
        } catch (Throwable t) {
            // best effort before power-off
        }
    }

    /** {@code sethostname(2)}. */
    static void sethostname(String name) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            byte[] b = name.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            MemorySegment s = a.allocate(b.length + 1);
            s.copyFrom(MemorySegment.ofArray(b));
            int rc = (int) SETHOSTNAME.invokeExact(st, s, (long) b.length);
            check(rc, st, "sethostname", -1);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Loads the kernel module in {@code file} with {@code params} ({@code finit_module(2)}); EEXIST is fine. */
    static void loadModule(String file, String params) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int fd = (int) OPEN.invokeExact(st, a.allocateFrom(file), O_RDONLY | O_CLOEXEC, 0);
            check(fd, st, "open " + file, -1);
            try {
                // compressed modules (.ko.xz/.ko.zst/.ko.gz) need MODULE_INIT_COMPRESSED_FILE
                long flags = file.endsWith(".ko") ? 0 : 4;
                long rc = (long) SYSCALL3.invokeExact(st, SYS_FINIT_MODULE, (long) fd, a.allocateFrom(params), flags);
                check((int) rc, st, "finit_module " + file, EEXIST);
            } finally {
                int ignored = (int) CLOSE.invokeExact(a.allocate(CALL_STATE), fd);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** An {@code AF_INET} datagram socket for interface ioctls; close it with {@link #close}. */
    static int inetSocket() throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int fd = (int) SOCKET.invokeExact(st, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            check(fd, st, "socket", -1);
            return fd;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static void close(int fd) {
        try (Arena a = Arena.ofConfined()) {
            int ignored = (int) CLOSE.invokeExact(a.allocate(CALL_STATE), fd);
        } catch (Throwable t) {
            // nothing to do
        }
    }

    /** {@code ioctl(fd, request, arg)}. */
    static void ioctl(int fd, long request, MemorySegment arg, String what) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CALL_STATE);
            int rc = (int) IOCTL.invokeExact(st, fd, request, arg);
            check(rc, st, what, EEXIST);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static void check(int rc, MemorySegment st, String what, int tolerated) throws IOException {
        if (rc >= 0) {
            return;
        }
        int errno = (int) ERRNO.get(st, 0L);
        if (errno == tolerated) {
            return;
        }
        throw new IOException(what + " failed: errno " + errno + " (" + errnoName(errno) + ")");
    }

    static String errnoName(int errno) {
        return switch (errno) {
            case 1 -> "EPERM";
            case 2 -> "ENOENT";
            case 13 -> "EACCES";
            case 16 -> "EBUSY";
            case 17 -> "EEXIST";
            case 19 -> "ENODEV";
            case 22 -> "EINVAL";
            case 38 -> "ENOSYS";
            default -> "errno " + errno;
        };
    }
}
