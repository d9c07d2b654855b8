package io.ukernel.vmm.image;

/** Packing an image failed for a reason the user can act on; the message is one line that says what to do. */
public final class ImageException extends Exception {
    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
