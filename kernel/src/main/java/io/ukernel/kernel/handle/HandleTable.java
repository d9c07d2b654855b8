package io.ukernel.kernel.handle;

import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/**
 * One task's handles: numbers that mean something only in this table. A new handle gets a random positive 31-bit
 * number (never 0, never negative), drawn from a generator seeded per table from {@link SecureRandom}, so a
 * number learnt from another task names nothing here ({@code ERR_BADHANDLE}) except by a 1-in-2<sup>31</sup>
 * coincidence, and a task cannot guess another's numbers. A closed number is not handed out again while it is
 * among the table's {@value #RECENT} most recently closed (a stale number fails instead of naming a new object).
 * Bounded by the app's {@code limits.handles}, which counts the open handles <em>and</em> the handles this task
 * sent in channel messages that are not yet received ({@link Account}). Owned by the reactor thread.
 */
public final class HandleTable {
    /** How many recently closed numbers are kept out of circulation. */
    public static final int RECENT = 4096;
    private static final SecureRandom SEEDS = new SecureRandom();

    private final int limit;
    private final Account account;
    private final Map<Integer, KernelObject> objects = new HashMap<>();
    private final RandomGenerator random;
    private final ArrayDeque<Integer> recentOrder = new ArrayDeque<>();
    private final Set<Integer> recent = new HashSet<>();

    /** A table of at most {@code limit} handles (open and in flight) charging what it sends to {@code account}. */
    public HandleTable(int limit, Account account) {
        this(limit, account, SEEDS.nextLong());
    }

    /** A table with the default {@code limits.queued_bytes} (tests). */
    public HandleTable(int limit) {
        this(limit, new Account(io.ukernel.kernel.policy.Policy.Limits.DEFAULT_QUEUED_BYTES));
    }

    /** A table whose numbers follow {@code seed} (tests). */
    public HandleTable(int limit, long seed) {
        this(limit, new Account(io.ukernel.kernel.policy.Policy.Limits.DEFAULT_QUEUED_BYTES), seed);
    }

    private HandleTable(int limit, Account account, long seed) {
        this.limit = limit;
        this.account = account;
        account.table(this);
        this.random = new SplittableRandom(seed);
    }

    /** What this table's task has in flight in channel queues. */
    public Account account() {
        return account;
    }

    /** How many more handles this task may hold: the limit less those open and those it has in flight. */
    public long room() {
        return limit - objects.size() - account.handles();
    }

    /** Installs {@code object} under a fresh random number, or returns empty when there is no {@link #room}. */
    public Optional<Integer> install(KernelObject object) {
        if (room() <= 0) {
            return Optional.empty();
        }
        int h;
        do {
            h = random.nextInt(1, Integer.MAX_VALUE);
        } while (objects.containsKey(h) || recent.contains(h));
        objects.put(h, object);
        return Optional.of(h);
    }

    /** The object behind {@code handle}, or empty. */
    public Optional<KernelObject> get(long handle) {
        if (handle < 1 || handle > Integer.MAX_VALUE) {
            return Optional.empty();
        }
        return Optional.ofNullable(objects.get((int) handle));
    }

    /** The object behind {@code handle} when it is of {@code type}, or empty. */
    public <T extends KernelObject> Optional<T> get(long handle, Class<T> type) {
        return get(handle).filter(type::isInstance).map(type::cast);
    }

    /** Removes {@code handle} without closing its object (used when a handle is moved to another task). */
    public Optional<KernelObject> remove(long handle) {
        Optional<KernelObject> o = get(handle);
        o.ifPresent(x -> {
            objects.remove((int) handle);
            retire((int) handle);
        });
        return o;
    }

    private void retire(int h) {
        if (recent.add(h)) {
            recentOrder.addLast(h);
            if (recentOrder.size() > RECENT) {
                recent.remove(recentOrder.removeFirst());
            }
        }
    }

    /** Closes {@code handle}; false when it was not open. */
    public boolean close(long handle) {
        Optional<KernelObject> o = remove(handle);
        o.ifPresent(KernelObject::close);
        return o.isPresent();
    }

    /** Closes every handle whose object {@code which} accepts; returns how many. */
    public int closeIf(java.util.function.Predicate<KernelObject> which) {
        List<Integer> doomed = objects.entrySet().stream().filter(e -> which.test(e.getValue()))
                .map(Map.Entry::getKey).toList();
        doomed.forEach(this::close);
        return doomed.size();
    }

    /** Closes every handle (the task ended). */
    public void closeAll() {
        List<Map.Entry<Integer, KernelObject>> all = List.copyOf(objects.entrySet());
        objects.clear();
        for (Map.Entry<Integer, KernelObject> e : all) {
            retire(e.getKey());
            e.getValue().close();
        }
    }

    /** Handles open now. */
    public int size() {
        return objects.size();
    }

    public int limit() {
        return limit;
    }
}
