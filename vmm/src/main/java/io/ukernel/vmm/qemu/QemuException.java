package io.ukernel.vmm.qemu;

import io.ukernel.vmm.VmmException;

/** QEMU is missing, refused its arguments, or its monitor (QMP) failed. */
public final class QemuException extends VmmException {
    public QemuException(String message) {
        super(message);
    }

    public QemuException(String message, Throwable cause) {
        super(message, cause);
    }
}
