package io.ukernel.vmm.guest;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * The Linux calls an init needs and the JDK lacks — {@code mount}, {@code reboot}, {@code ioctl} on network
 * interfaces, {@code finit_module}, {@code sethostname}, {@code sync} — made through the FFM API with one
 * binding: libc's {@code syscall(2)} with six {@code long} arguments. Every FFM binding costs the JVM a
 * generated native stub, which under emulation takes a few hundred milliseconds of boot each; one binding for
 * all calls pays that once. Each call throws an {@link IOException} naming it and {@code errno} on failure
 * (captured right after the call with {@link Linker.Option#captureCallState}). x86-64 and aarch64.
 */
final class Linux {
    static final long MS_NOSUID = 2;
    static final long MS_NODEV = 4;
    static final long MS_NOEXEC = 8;

    static final long LINUX_REBOOT_MAGIC1 = 0xfee1deadL;
    static final long LINUX_REBOOT_MAGIC2 = 672274793;
    static final int LINUX_REBOOT_CMD_RESTART = 0x01234567;
    static final int LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC;
    /** Ctrl-Alt-Del sends SIGINT to init instead of rebooting at once. */
    static final int LINUX_REBOOT_CMD_CAD_OFF = 0;

    static final int AF_INET = 2;
    static final int SOCK_DGRAM = 2;
    static final int SOCK_CLOEXEC = 02000000;
    static final int O_RDONLY = 0;
    static final int O_CLOEXEC = 02000000;
    static final long AT_FDCWD = -100;

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

    /** System call numbers: x86-64, else aarch64 (the generic table). */
    private record Numbers(long mount, long reboot, long socket, long ioctl, long close, long openat,
            long finitModule, long sethostname, long sync, long clockSettime) {}

    private static final Numbers NR = System.getProperty("os.arch").equals("aarch64")
            ? new Numbers(40, 142, 198, 29, 57, 56, 273, 161, 81, 112)
            : new Numbers(165, 169, 41, 16, 3, 257, 313, 170, 162, 227);

    static final long TCGETS = 0x5401;
    static final long TCSETS = 0x5402;
    /** {@code struct termios} as the kernel's TCGETS fills it: four flag words, c_line, c_cc[19]. */
    static final int TERMIOS_SIZE = 36;
    static final int TERMIOS_LFLAG = 12;
    static final int TERMIOS_CC = 17;
    static final int VTIME = 5;
    static final int VMIN = 6;
    static final int ISIG = 0x1;
    static final int ICANON = 0x2;
    static final int ECHO = 0x8;
    static final int ECHONL = 0x40;
    static final int IEXTEN = 0x8000;
    /** {@code _IOW('R', 0x03, int[2])}: add bytes to the input pool and credit them. */
    static final long RNDADDENTROPY = 0x40085203L;
    /** {@code _IO('R', 0x07)}: reseed the kernel's CRNG from the input pool now. */
    static final long RNDRESEEDCRNG = 0x5207;
    static final int O_WRONLY = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    /** {@code long syscall(long number, ...)}, called with six arguments (the kernel ignores unused ones). */
    private static final MethodHandle SYSCALL = LINKER.downcallHandle(
            LINKER.defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                    JAVA_LONG),
            Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));

    private Linux() {}

    /**
     * One system call; returns its result, or throws for a failure other than {@code tolerated}.
     */
    private static long call(String what, int tolerated, long nr, long a, long b, long c, long d, long e)
            throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long rc = (long) SYSCALL.invokeExact(state, nr, a, b, c, d, e, 0L);
            if (rc == -1) {
                int errno = (int) ERRNO.get(state, 0L);
                if (errno != tolerated) {
                    throw new IOException(what + " failed: " + errnoName(errno));
                }
            }
            return rc;
        } catch (IOException | RuntimeException | Error x) {
            throw x;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** {@code mount(2)}; EBUSY (already mounted) is not an error. */
    static void mount(String source, String target, String fstype, long flags, String data) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            long options = data == null ? 0 : a.allocateFrom(data).address();
            call("mount " + fstype + " on " + target, EBUSY, NR.mount(), a.allocateFrom(source).address(),
                    a.allocateFrom(target).address(), a.allocateFrom(fstype).address(), flags, options);
        }
    }

    /** {@code reboot(2)}: does not return for RESTART and POWER_OFF. */
    static void reboot(int cmd) throws IOException {
        call("reboot", -1, NR.reboot(), LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, cmd, 0, 0);
    }

    /** {@code sync(2)}. */
    static void sync() {
        try {
            call("sync", -1, NR.sync(), 0, 0, 0, 0, 0);
        } catch (IOException | RuntimeException e) {
            // best effort before power-off
        }
    }

    /** {@code sethostname(2)}. */
    static void sethostname(String name) throws IOException {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        try (Arena a = Arena.ofConfined()) {
            call("sethostname", -1, NR.sethostname(), a.allocateFrom(name).address(), b.length, 0, 0, 0);
        }
    }

    /** Loads the kernel module in {@code file} with {@code params} ({@code finit_module(2)}); EEXIST is fine. */
    static void loadModule(String file, String params) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            long fd = call("open " + file, -1, NR.openat(), AT_FDCWD, a.allocateFrom(file).address(),
                    O_RDONLY | O_CLOEXEC, 0, 0);
            try {
                // compressed modules (.ko.xz/.ko.zst/.ko.gz) need MODULE_INIT_COMPRESSED_FILE
                long flags = file.endsWith(".ko") ? 0 : 4;
                call("finit_module " + file, EEXIST, NR.finitModule(), fd, a.allocateFrom(params).address(), flags,
                        0, 0);
            } finally {
                close((int) fd);
            }
        }
    }

    /** An {@code AF_INET} datagram socket for interface ioctls; close it with {@link #close}. */
    static int inetSocket() throws IOException {
        return (int) call("socket", -1, NR.socket(), AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0, 0);
    }

    /** {@code close(2)}, errors ignored. */
    static void close(int fd) {
        try {
            call("close", -1, NR.close(), fd, 0, 0, 0, 0);
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    /** {@code ioctl(fd, request, arg)}; EEXIST (a route that exists) is fine. */
    static void ioctl(int fd, long request, MemorySegment arg, String what) throws IOException {
        call(what, EEXIST, NR.ioctl(), fd, request, arg.address(), 0, 0);
    }

    /**
     * Puts the terminal on {@code fd} in raw input: no echo (what the host writes there — the restore record with
     * the app's environment — must not come back on the console and into the host's log), no line editing or
     * line-length limit, no signal characters; {@code read} returns as soon as a byte is there.
     */
    static void rawNoEcho(int fd) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = a.allocate(TERMIOS_SIZE);
            call("TCGETS", -1, NR.ioctl(), fd, TCGETS, t.address(), 0, 0);
            int lflag = t.get(ValueLayout.JAVA_INT_UNALIGNED, TERMIOS_LFLAG);
            t.set(ValueLayout.JAVA_INT_UNALIGNED, TERMIOS_LFLAG, lflag & ~(ISIG | ICANON | ECHO | ECHONL | IEXTEN));
            t.set(ValueLayout.JAVA_BYTE, TERMIOS_CC + VMIN, (byte) 1);
            t.set(ValueLayout.JAVA_BYTE, TERMIOS_CC + VTIME, (byte) 0);
            call("TCSETS", -1, NR.ioctl(), fd, TCSETS, t.address(), 0, 0);
        }
    }

    /** {@code clock_settime(CLOCK_REALTIME)} to {@code epochNs}. */
    static void setWallClock(long epochNs) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ts = a.allocate(16, 8);
            ts.set(ValueLayout.JAVA_LONG, 0, Math.floorDiv(epochNs, 1_000_000_000L));
            ts.set(ValueLayout.JAVA_LONG, 8, Math.floorMod(epochNs, 1_000_000_000L));
            call("clock_settime", -1, NR.clockSettime(), 0 /* CLOCK_REALTIME */, ts.address(), 0, 0, 0);
        }
    }

    /**
     * Mixes {@code seed} into the kernel's input pool, crediting it ({@code RNDADDENTROPY}), then makes the CRNG
     * reseed from the pool at once ({@code RNDRESEEDCRNG}) instead of at its next scheduled reseed: every
     * {@code getrandom}/{@code /dev/urandom} read after this depends on the seed. Needs CAP_SYS_ADMIN (init has it).
     */
    static void reseedRandom(byte[] seed) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            long fd = call("open /dev/urandom", -1, NR.openat(), AT_FDCWD, a.allocateFrom("/dev/urandom").address(),
                    O_WRONLY | O_CLOEXEC, 0, 0);
            try {
                MemorySegment info = a.allocate(8L + seed.length, 4);
                info.set(ValueLayout.JAVA_INT, 0, seed.length * 8);
                info.set(ValueLayout.JAVA_INT, 4, seed.length);
                MemorySegment.copy(seed, 0, info, ValueLayout.JAVA_BYTE, 8, seed.length);
                call("RNDADDENTROPY", -1, NR.ioctl(), fd, RNDADDENTROPY, info.address(), 0, 0);
                call("RNDRESEEDCRNG", -1, NR.ioctl(), fd, RNDRESEEDCRNG, 0, 0, 0);
            } finally {
                close((int) fd);
            }
        }
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
