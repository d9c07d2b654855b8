package io.ukernel.kernel.ipc;

import io.ukernel.kernel.handle.KernelObject;
import java.util.ArrayDeque;
import java.util.List;

/**
 * Closes the objects of dropped messages iteratively. Closing a channel end drops its queue, whose messages may
 * carry channel ends with queues of their own, and so on: a chain as long as a task's handle budget. Closing that
 * recursively would cost one stack frame group per level and could overflow the reactor thread's stack; here the
 * outermost close drains a work list and nested closes only add to it. Per thread, because each kernel has its
 * own reactor thread (several kernels share a JVM in tests).
 */
final class Dropping {
    private static final ThreadLocal<ArrayDeque<KernelObject>> PENDING = new ThreadLocal<>();

    private Dropping() {}

    static void closeAll(List<KernelObject> objects) {
        ArrayDeque<KernelObject> pending = PENDING.get();
        if (pending != null) {
            pending.addAll(objects);
            return;
        }
        pending = new ArrayDeque<>(objects);
        PENDING.set(pending);
        try {
            for (KernelObject o; (o = pending.poll()) != null; ) {
                o.close();
            }
        } finally {
            PENDING.remove();
        }
    }
}
