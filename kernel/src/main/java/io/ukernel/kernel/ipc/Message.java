package io.ukernel.kernel.ipc;

import io.ukernel.kernel.handle.KernelObject;
import java.util.List;

/** A queued channel message: its bytes and the objects whose handles it carries (owned by it while queued). */
record Message(byte[] data, List<KernelObject> handles) {
    /** What a message costs against the queue limit: its bytes plus a fixed overhead, so empty ones count too. */
    static final int OVERHEAD = 64;

    int cost() {
        return data.length + OVERHEAD;
    }
}
