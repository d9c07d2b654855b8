package io.ukernel.abi;

import java.util.Locale;

/** Origins for {@code io_seek}. */
public enum Whence implements AbiConstant {
    SET(0),
    CUR(1),
    END(2);

    private final int code;

    Whence(int code) {
        this.code = code;
    }

    @Override
    public long value() {
        return code;
    }

    @Override
    public String abiName() {
        return "seek_" + name().toLowerCase(Locale.ROOT);
    }
}
