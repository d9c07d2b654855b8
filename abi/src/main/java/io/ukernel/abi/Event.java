package io.ukernel.abi;

import java.util.Locale;

/** Readiness bits reported by {@code io_poll}. Errors and closed peers surface here, never as poll failures. */
public enum Event implements AbiConstant {
    READABLE(1, "data, a connection, a message or an exit status can be taken without blocking"),
    WRITABLE(2, "a send can make progress, or a non-blocking connect has finished"),
    HANGUP(4, "the peer closed its end (always reported, even if not asked for)"),
    ERROR(8, "the object has a pending error (always reported, even if not asked for)");

    private final int bit;
    private final String meaning;

    Event(int bit, String meaning) {
        this.bit = bit;
        this.meaning = meaning;
    }

    public int bit() {
        return bit;
    }

    public String meaning() {
        return meaning;
    }

    @Override
    public long value() {
        return bit;
    }

    @Override
    public String abiName() {
        return "ev_" + name().toLowerCase(Locale.ROOT);
    }
}
