package io.ukernel.abi;

import java.util.Locale;

/** States reported by {@code task_status}. */
public enum TaskState implements AbiConstant {
    RUNNING(0),
    EXITED(1);

    private final int code;

    TaskState(int code) {
        this.code = code;
    }

    @Override
    public long value() {
        return code;
    }

    @Override
    public String abiName() {
        return "task_" + name().toLowerCase(Locale.ROOT);
    }
}
