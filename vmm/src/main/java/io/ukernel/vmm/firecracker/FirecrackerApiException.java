package io.ukernel.vmm.firecracker;

import io.ukernel.vmm.VmmException;

/**
 * Firecracker's API refused a request. {@link #faultMessage} is Firecracker's {@code fault_message}, verbatim.
 */
public final class FirecrackerApiException extends VmmException {
    private final int status;
    private final String faultMessage;

    /**
     * @param request      e.g. {@code PUT /drives/rootfs}
     * @param status       the HTTP status
     * @param faultMessage Firecracker's {@code fault_message} (or the raw body when there is none)
     */
    public FirecrackerApiException(String request, int status, String faultMessage) {
        super("Firecracker refused " + request + " (HTTP " + status + "): " + faultMessage);
        this.status = status;
        this.faultMessage = faultMessage;
    }

    /** The HTTP status. */
    public int status() {
        return status;
    }

    /** Firecracker's {@code fault_message}, verbatim. */
    public String faultMessage() {
        return faultMessage;
    }
}
