package io.ukernel.abi;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Capability bits. Coarse on purpose (WASI dropped per-fd rights as too complex): the capability says which
 * family of calls a task may make; scopes in the manifest (allow-lists, preopens) say where.
 */
public enum Cap implements AbiConstant {
    LOG(1L << 0, "write console lines (log_write)"),
    TIME(1L << 1, "read the monotonic and wall clocks"),
    TASK(1L << 2, "spawn tasks and read their status"),
    IPC(1L << 3, "create channels and send or receive on them"),
    NET(1L << 4, "create TCP sockets; bind and connect within the manifest's allow-lists"),
    IO(1L << 5, "open files inside the manifest's preopened directories");

    /** Every capability bit; masks with other bits set are invalid. */
    public static final long ALL_MASK = allMask();

    private final long bit;
    private final String grants;

    Cap(long bit, String grants) {
        this.bit = bit;
        this.grants = grants;
    }

    /** The single bit of this capability. */
    public long bit() {
        return bit;
    }

    /** What holding this capability allows. */
    public String grants() {
        return grants;
    }

    @Override
    public long value() {
        return bit;
    }

    @Override
    public String abiName() {
        return "cap_" + name().toLowerCase(Locale.ROOT);
    }

    /** The capability named {@code name} (case-insensitive), or {@code null}. */
    public static Cap byName(String name) {
        for (Cap c : values()) {
            if (c.name().equalsIgnoreCase(name)) {
                return c;
            }
        }
        return null;
    }

    /** Renders a mask as {@code LOG|TIME}, or {@code none}. */
    public static String format(long mask) {
        List<String> names = new ArrayList<>();
        for (Cap c : values()) {
            if ((mask & c.bit) != 0) {
                names.add(c.name());
            }
        }
        long unknown = mask & ~ALL_MASK;
        if (unknown != 0) {
            names.add("0x" + Long.toHexString(unknown));
        }
        return names.isEmpty() ? "none" : String.join("|", names);
    }

    private static long allMask() {
        long m = 0;
        for (Cap c : values()) {
            m |= c.bit;
        }
        return m;
    }
}
