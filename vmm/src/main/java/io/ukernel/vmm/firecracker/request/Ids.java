package io.ukernel.vmm.firecracker.request;

/** Firecracker's device ids: {@code [A-Za-z0-9_]+}. */
final class Ids {
    private Ids() {}

    static void check(String id, String what) {
        if (id == null || !id.matches("[A-Za-z0-9_]+")) {
            throw new IllegalArgumentException(what + " must match [A-Za-z0-9_]+, got \"" + id + "\"");
        }
    }
}
