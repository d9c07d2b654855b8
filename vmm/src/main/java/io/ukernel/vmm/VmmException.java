package io.ukernel.vmm;

/**
 * A virtual machine monitor failed or refused what was asked: QEMU missing or exiting early, Firecracker's API
 * answering an error, a socket that never appeared. The message is one line fit for the user.
 */
public class VmmException extends Exception {
    public VmmException(String message) {
        super(message);
    }

    public VmmException(String message, Throwable cause) {
        super(message, cause);
    }
}
