package io.ukernel.vmm.oci;

/** Writing an OCI image failed; the message says what and, where the user can act, what to change. */
public final class OciException extends Exception {
    public OciException(String message) {
        super(message);
    }

    public OciException(String message, Throwable cause) {
        super(message, cause);
    }
}
