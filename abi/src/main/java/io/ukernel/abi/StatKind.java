package io.ukernel.abi;

import java.util.Locale;

/** The kind of file reported by {@code io_stat}. */
public enum StatKind implements AbiConstant {
    FILE(1),
    DIRECTORY(2),
    OTHER(3);

    private final int code;

    StatKind(int code) {
        this.code = code;
    }

    @Override
    public long value() {
        return code;
    }

    @Override
    public String abiName() {
        return "stat_" + name().toLowerCase(Locale.ROOT);
    }
}
