package io.ukernel.abi;

import java.util.Locale;

/** Flags of {@code io_open}. Writing flags need a preopen granted {@code rw}. */
public enum OpenFlag implements AbiConstant {
    READ(1),
    WRITE(2),
    CREATE(4),
    TRUNCATE(8),
    APPEND(16),
    EXCLUSIVE(32);

    /** Every defined flag; other bits are {@code ERR_INVAL}. */
    public static final long ALL_MASK = allMask();

    private final int bit;

    OpenFlag(int bit) {
        this.bit = bit;
    }

    private static long allMask() {
        long m = 0;
        for (OpenFlag f : values()) {
            m |= f.bit;
        }
        return m;
    }

    public int bit() {
        return bit;
    }

    @Override
    public long value() {
        return bit;
    }

    @Override
    public String abiName() {
        return "open_" + name().toLowerCase(Locale.ROOT);
    }
}
