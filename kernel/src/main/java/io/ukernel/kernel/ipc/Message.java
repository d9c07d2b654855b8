package io.ukernel.kernel.ipc;

import io.ukernel.kernel.handle.Account;
import io.ukernel.kernel.handle.KernelObject;
import java.util.List;

/**
 * A queued channel message: its bytes, the objects whose handles it carries (owned by it while queued), and the
 * account of the task that sent it, which is charged for both until the message is received or dropped.
 */
record Message(byte[] data, List<KernelObject> handles, Account sender) {
    /** What a message costs against the queue limit: its bytes plus a fixed overhead, so empty ones count too. */
    static final int OVERHEAD = 64;

    int cost() {
        return data.length + OVERHEAD;
    }

    void charge() {
        sender.charge(handles.size(), cost());
    }

    void release() {
        sender.release(handles.size(), cost());
    }
}
