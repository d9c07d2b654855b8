package io.ukernel.kernel;

import io.ukernel.abi.Family;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Counters of one kernel, per task name (a restarted task keeps counting under its name): calls by family,
 * denials, network connections made or accepted, and bytes sent and received through {@code net_send} /
 * {@code net_recv}. Written by the reactor thread, read by anyone (the host's {@code /metrics}).
 */
public final class KernelMetrics {
    /** What is counted besides calls, in the order of {@link Counters#values()}. */
    public enum Counter { DENIALS, CONNECTIONS, BYTES_SENT, BYTES_RECEIVED }

    private static final int FAMILIES = Family.values().length;

    /** One task's counters: calls by family (indexed by {@link Family#ordinal()}), then each {@link Counter}. */
    public static final class Counters {
        private final AtomicLongArray values = new AtomicLongArray(FAMILIES + Counter.values().length);

        public long calls(Family f) {
            return values.get(f.ordinal());
        }

        public long get(Counter c) {
            return values.get(FAMILIES + c.ordinal());
        }

        void call(Family f) {
            values.incrementAndGet(f.ordinal());
        }

        void add(Counter c, long n) {
            values.addAndGet(FAMILIES + c.ordinal(), n);
        }
    }

    private final Map<String, Counters> tasks = new ConcurrentHashMap<>();

    private Counters of(String task) {
        return tasks.computeIfAbsent(task, t -> new Counters());
    }

    /** A call of {@code family} by {@code task}. */
    public void call(String task, Family family) {
        of(task).call(family);
    }

    /** Adds {@code n} to a counter of {@code task}. */
    public void add(String task, Counter counter, long n) {
        if (n != 0) {
            of(task).add(counter, n);
        }
    }

    /** Every task's counters by name, sorted (a copy of the map; the counters stay live). */
    public Map<String, Counters> snapshot() {
        return new TreeMap<>(tasks);
    }
}
