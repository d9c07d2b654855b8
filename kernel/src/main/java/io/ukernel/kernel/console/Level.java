package io.ukernel.kernel.console;

import io.ukernel.abi.LogLevel;

/** The level column of a console line: the ABI's log levels plus the two captured output streams. */
public enum Level {
    DEBUG,
    INFO,
    WARN,
    ERROR,
    /** A line the worker printed to stdout. */
    OUT,
    /** A line the worker printed to stderr. */
    ERR;

    /** The console level of an ABI log level. */
    public static Level of(LogLevel level) {
        return switch (level) {
            case DEBUG -> DEBUG;
            case INFO -> INFO;
            case WARN -> WARN;
            case ERROR -> ERROR;
        };
    }
}
