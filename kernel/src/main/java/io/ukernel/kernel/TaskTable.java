package io.ukernel.kernel;

import io.ukernel.kernel.policy.Policy.RestartPolicy;
import io.ukernel.kernel.caps.CapabilitySet;
import java.security.SecureRandom;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The live tasks, by id, and the one-time tokens that bind a worker's connection to its task. Ids are never
 * reused within a boot. Owned by the reactor thread.
 */
public final class TaskTable {
    private final SecureRandom random = new SecureRandom();
    private final Map<Integer, Task> tasks = new LinkedHashMap<>();
    private final Map<String, Task> pendingTokens = new LinkedHashMap<>();
    private final int limit;
    private int nextId = 1;

    public TaskTable(int limit) {
        this.limit = limit;
    }

    /** Creates a task, or returns empty when the app's task limit is reached. */
    public Optional<Task> create(String name, String entry, RestartPolicy restart, CapabilitySet ceiling,
            io.ukernel.kernel.policy.Policy.Limits limits) {
        if (liveCount() >= limit) {
            return Optional.empty();
        }
        Task t = new Task(nextId++, name, entry, restart, ceiling, limits.handles(), limits.queuedBytes(),
                limits.netBytes(), null);
        tasks.put(t.id(), t);
        renewToken(t);
        return Optional.of(t);
    }

    /** Gives a restarted task a fresh token (the old one was spent or belonged to a dead process). */
    void renewToken(Task t) {
        pendingTokens.values().remove(t);
        byte[] secret = new byte[io.ukernel.abi.Abi.TOKEN_BYTES];
        random.nextBytes(secret);
        String token = HexFormat.of().formatHex(secret);
        pendingTokens.put(token, t);
        t.token(token);
    }

    /** Spends a token: the task it was issued to, once. */
    public Optional<Task> redeem(String token) {
        return Optional.ofNullable(pendingTokens.remove(token));
    }

    public Optional<Task> get(int id) {
        return Optional.ofNullable(tasks.get(id));
    }

    public Collection<Task> all() {
        return tasks.values();
    }

    /**
     * Drops an ended spawned task from the table (it will not run again). Without it a parent spawning short-lived
     * children would grow the table, and every {@link #liveCount}, without bound. Handles on it keep working: a
     * task handle holds the task itself.
     */
    public void forget(Task t) {
        tasks.remove(t.id(), t);
        pendingTokens.values().remove(t);
    }

    /** Tasks in the table: the live ones, and the ended ones not forgotten (boot tasks). */
    public int size() {
        return tasks.size();
    }

    /** Tasks not yet exited. */
    public long liveCount() {
        return tasks.values().stream().filter(t -> t.state() != Task.State.EXITED).count();
    }
}
