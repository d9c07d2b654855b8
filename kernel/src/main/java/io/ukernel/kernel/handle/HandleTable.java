package io.ukernel.kernel.handle;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One task's handles: small positive numbers that mean something only in this table (a number from another task
 * names nothing here, or something else). Numbers are allocated lowest-free-first, starting at 1, so 0 is never a
 * valid handle. Bounded by the app's {@code limits.handles}. Owned by the reactor thread.
 */
public final class HandleTable {
    private final int limit;
    private final List<KernelObject> slots = new ArrayList<>();
    private int count;

    public HandleTable(int limit) {
        this.limit = limit;
    }

    /** Installs {@code object} under the lowest free number, or returns empty when the table is full. */
    public Optional<Integer> install(KernelObject object) {
        if (count >= limit) {
            return Optional.empty();
        }
        int index = slots.indexOf(null);
        if (index < 0) {
            slots.add(object);
            index = slots.size() - 1;
        } else {
            slots.set(index, object);
        }
        count++;
        return Optional.of(index + 1);
    }

    /** The object behind {@code handle}, or empty. */
    public Optional<KernelObject> get(long handle) {
        if (handle < 1 || handle > slots.size()) {
            return Optional.empty();
        }
        return Optional.ofNullable(slots.get((int) handle - 1));
    }

    /** The object behind {@code handle} when it is of {@code type}, or empty. */
    public <T extends KernelObject> Optional<T> get(long handle, Class<T> type) {
        return get(handle).filter(type::isInstance).map(type::cast);
    }

    /** Removes {@code handle} without closing its object (used when a handle is moved to another task). */
    public Optional<KernelObject> remove(long handle) {
        Optional<KernelObject> o = get(handle);
        o.ifPresent(x -> {
            slots.set((int) handle - 1, null);
            count--;
        });
        return o;
    }

    /** Closes {@code handle}; false when it was not open. */
    public boolean close(long handle) {
        Optional<KernelObject> o = remove(handle);
        o.ifPresent(KernelObject::close);
        return o.isPresent();
    }

    /** Closes every handle (the task ended). */
    public void closeAll() {
        for (int i = 0; i < slots.size(); i++) {
            KernelObject o = slots.get(i);
            if (o != null) {
                slots.set(i, null);
                o.close();
            }
        }
        count = 0;
    }

    /** Handles open now. */
    public int size() {
        return count;
    }

    public int limit() {
        return limit;
    }
}
