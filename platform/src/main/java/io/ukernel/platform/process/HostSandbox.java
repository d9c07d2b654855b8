package io.ukernel.platform.process;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What this host offers to confine a worker, asked of the Linux kernel itself (FFM, no JNI): the Landlock ABI
 * version ({@code landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)}) and whether seccomp filters
 * returning {@code SECCOMP_RET_ERRNO} are available ({@code seccomp(SECCOMP_GET_ACTION_AVAIL)}). The worker's loader
 * applies the confinement itself (python/ukernel/_confine.py); the kernel asks only to say so in the banner and
 * to refuse, in strict mode, a host where the loader could not confine.
 *
 * <p>For the namespaces ({@code python/ukernel/_jail.py}) it asks whether the kernel runs as root ({@code geteuid}),
 * which may create every namespace, and otherwise whether unprivileged user namespaces are allowed (the sysctls
 * {@code user.max_user_namespaces}, Debian's {@code kernel.unprivileged_userns_clone} and Ubuntu's
 * {@code kernel.apparmor_restrict_unprivileged_userns}). A container without {@code CAP_SYS_ADMIN} may still refuse
 * them: the worker then says so in its report (under {@code auto}) or refuses to run (under {@code on}).
 *
 * @param landlockAbi   the Landlock ABI version, 0 when the host has none
 * @param seccomp       whether the loader can install its seccomp filter here (Linux x86_64 with filter support)
 * @param seccompDetail why not, when {@code seccomp} is false
 * @param root          whether the kernel runs as root (workers then drop to a dedicated uid in the jail)
 * @param namespaces    whether workers can get their own namespaces here (root, or user namespaces allowed)
 * @param namespacesDetail how (as root, in a user namespace) or why not
 */
public record HostSandbox(int landlockAbi, boolean seccomp, String seccompDetail, boolean root, boolean namespaces,
        String namespacesDetail) {
    static final long SYS_LANDLOCK_CREATE_RULESET = 444;
    static final long LANDLOCK_CREATE_RULESET_VERSION = 1;
    static final long SYS_SECCOMP_X86_64 = 317;
    static final long SECCOMP_GET_ACTION_AVAIL = 2;
    static final int SECCOMP_RET_ERRNO = 0x00050000;

    /** A host probe result without the namespace facts (tests of hosts unlike this one). */
    public HostSandbox(int landlockAbi, boolean seccomp, String seccompDetail) {
        this(landlockAbi, seccomp, seccompDetail, false, false, "not probed");
    }

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
            return new HostSandbox(0, false, "not Linux (" + os + ")", false, false, "not Linux");
        }
        int abi = 0;
        boolean seccomp = false;
        String detail = null;
        boolean root;
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
        root = effectiveUid(Path.of("/proc/self/status")) == 0;
        String userns = root ? null : userNamespacesRefused(Path.of("/proc/sys"));
        return new HostSandbox(abi, seccomp, detail, root, root || userns == null,
                root ? "as root" : userns == null ? "in a user namespace" : userns);
    }

    /**
     * Why this host refuses unprivileged user namespaces (a sysctl, read under {@code sys}), or null when it
     * allows them.
     */
    static String userNamespacesRefused(Path sys) {
        String max = sysctl(sys.resolve("user/max_user_namespaces"));
        if ("0".equals(max)) {
            return "user.max_user_namespaces = 0";
        }
        if ("0".equals(sysctl(sys.resolve("kernel/unprivileged_userns_clone")))) {
            return "kernel.unprivileged_userns_clone = 0 (set it to 1, or run the kernel as root)";
        }
        if ("1".equals(sysctl(sys.resolve("kernel/apparmor_restrict_unprivileged_userns")))) {
            return "kernel.apparmor_restrict_unprivileged_userns = 1 (AppArmor restricts unprivileged user namespaces)";
        }
        return null;
    }

    /** The effective uid from a {@code /proc/<pid>/status} file ({@code Uid: real effective saved fs}), -1 if unknown. */
    static long effectiveUid(Path status) {
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("Uid:")) {
                    return Long.parseLong(line.substring(4).strip().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        return -1;
    }

    private static String sysctl(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException | RuntimeException e) {
            return null; // absent: the host has no such switch
        }
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
