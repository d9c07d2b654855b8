package io.ukernel.abi;

import java.util.Locale;

/** Levels of {@code log_write}. The numbers match Python's {@code logging} so the adapter passes them through. */
public enum LogLevel implements AbiConstant {
    DEBUG(10),
    INFO(20),
    WARN(30),
    ERROR(40);

    private final int level;

    LogLevel(int level) {
        this.level = level;
    }

    @Override
    public long value() {
        return level;
    }

    @Override
    public String abiName() {
        return "log_" + name().toLowerCase(Locale.ROOT);
    }

    /** The level with this number, or {@code null}. */
    public static LogLevel of(long value) {
        for (LogLevel l : values()) {
            if (l.level == value) {
                return l;
            }
        }
        return null;
    }
}
