package io.ukernel.platform.process;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * What this host offers to confine a worker, asked of the Linux kernel itself (FFM, no JNI): the Landlock ABI
 * version ({@code landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)}) and whether seccomp filters
 * returning {@code SECCOMP_RET_ERRNO} are available ({@code seccomp(SECCOMP_GET_ACTION_AVAIL)}). The worker's loader
 * applies the confinement itself (python/ukernel/_confine.py); the kernel asks only to say so in the banner and
 * to refuse, in strict mode, a host where the loader could not confine.
 *
 * @param landlockAbi   the Landlock ABI version, 0 when the host has none
 * @param seccomp       whether the loader can install its seccomp filter here (Linux x86_64 with filter support)
 * @param seccompDetail why not, when {@code seccomp} is false
 */
public record HostSandbox(int landlockAbi, boolean seccomp, String seccompDetail) {
    static final long SYS_LANDLOCK_CREATE_RULESET = 444;
    static final long LANDLOCK_CREATE_RULESET_VERSION = 1;
    static final long SYS_SECCOMP_X86_64 = 317;
    static final long SECCOMP_GET_ACTION_AVAIL = 2;
    static final int SECCOMP_RET_ERRNO = 0x00050000;

    /** Whether a strict sandbox can be applied here. */
    public boolean canConfine() {
        return landlockAbi >= 1 && seccomp;
    }

    /** What is missing for strict confinement, or null. */
    public String missing() {
        if (canConfine()) {
            return null;
        }
        StringBuilder b = new StringBuilder();
        if (landlockAbi < 1) {
            b.append("no Landlock (needs Linux >= 5.13 with landlock among the LSMs)");
        }
        if (!seccomp) {
            b.append(b.isEmpty() ? "" : " and ").append("no seccomp filter (").append(seccompDetail).append(')');
        }
        return b.toString();
    }

    /** Asks the running Linux kernel; never throws (a failed probe is "not available"). */
    public static HostSandbox probe() {
        String os = System.getProperty("os.name", "");
        if (!os.equals("Linux")) {
            return new HostSandbox(0, false, "not Linux (" + os + ")");
        }
        int abi = 0;
        boolean seccomp = false;
        String detail = null;
        try {
            MethodHandle syscall = syscallHandle();
            long v = (long) syscall.invokeExact(SYS_LANDLOCK_CREATE_RULESET, 0L, 0L, LANDLOCK_CREATE_RULESET_VERSION);
            abi = v > 0 ? (int) v : 0;
            if (!System.getProperty("os.arch", "").equals("amd64")) {
                detail = "the loader's filter is built for x86_64; this is " + System.getProperty("os.arch");
            } else {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment action = arena.allocate(JAVA_INT);
                    action.set(JAVA_INT, 0, SECCOMP_RET_ERRNO);
                    long r = (long) syscall.invokeExact(SYS_SECCOMP_X86_64, SECCOMP_GET_ACTION_AVAIL, 0L,
                            action.address());
                    seccomp = r == 0;
                    detail = seccomp ? null : "seccomp(SECCOMP_GET_ACTION_AVAIL) failed: the kernel lacks "
                            + "CONFIG_SECCOMP_FILTER";
                }
            }
        } catch (Throwable t) {
            detail = "cannot ask the kernel: " + t;
        }
        return new HostSandbox(abi, seccomp, detail);
    }

    @SuppressWarnings("restricted") // the launcher and surefire pass --enable-native-access=ALL-UNNAMED
    private static MethodHandle syscallHandle() {
        Linker linker = Linker.nativeLinker();
        MemorySegment symbol = linker.defaultLookup().find("syscall").orElseThrow();
        // long syscall(long number, ...): the arguments after the number are variadic; pointers go as their
        // address (one handle for both probes: binding a downcall costs milliseconds at boot).
        return linker.downcallHandle(symbol, FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                JAVA_LONG), Linker.Option.firstVariadicArg(1));
    }
}
