package io.ukernel.kernel;

import io.ukernel.abi.Frame;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.policy.Policy.RestartPolicy;
import io.ukernel.kernel.caps.CapabilitySet;
import io.ukernel.kernel.handle.KernelObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/** Makes tasks for unit tests (Task's constructor is package-private: only the task table creates tasks). */
public final class TestTasks {
    private TestTasks() {}

    public static Task task(int id, String name, CapabilitySet ceiling) {
        Task t = new Task(id, name, "src/main.py", RestartPolicy.never(), ceiling, 16,
                Policy.Limits.DEFAULT_QUEUED_BYTES, Policy.Limits.DEFAULT_NET_BYTES, "00");
        t.state(Task.State.RUNNING);
        return t;
    }

    /** A task with the given {@code limits.handles} and {@code limits.queued_bytes}. */
    public static Task task(int id, String name, CapabilitySet ceiling, int handles, long queuedBytes) {
        Task t = new Task(id, name, "src/main.py", RestartPolicy.never(), ceiling, handles, queuedBytes,
                Policy.Limits.DEFAULT_NET_BYTES, "00");
        t.state(Task.State.RUNNING);
        return t;
    }

    /** A task with the given {@code limits.handles}, {@code limits.queued_bytes} and {@code limits.net_bytes}. */
    public static Task task(int id, String name, CapabilitySet ceiling, int handles, long queuedBytes,
            long netBytes, List<Frame.Reply> replies) {
        Task t = new Task(id, name, "src/main.py", RestartPolicy.never(), ceiling, handles, queuedBytes, netBytes,
                "00");
        t.state(Task.State.RUNNING);
        t.replies(replies::add);
        return t;
    }

    /** A task whose parked calls' late replies are collected in {@code replies}. */
    public static Task task(int id, String name, CapabilitySet ceiling, List<Frame.Reply> replies) {
        return task(id, name, ceiling, (Consumer<Frame.Reply>) replies::add);
    }

    /** A task whose parked calls' late replies are handed to {@code sink} (on the reactor thread). */
    public static Task task(int id, String name, CapabilitySet ceiling, Consumer<Frame.Reply> sink) {
        Task t = task(id, name, ceiling);
        t.replies(sink);
        return t;
    }

    /** Drops a task's parked calls, as the kernel does when its connection goes. */
    public static void cancelParked(Task t) {
        t.cancelParked();
    }

    /** Ends a task as the kernel would (handles closed, task handles told). */
    public static void exit(Task t, int status) {
        t.state(Task.State.EXITED);
        t.exitStatus(status);
        t.cancelParked();
        t.handles().closeAll();
        t.notifyExit();
    }

    public static Policy policy(List<Policy.TaskSpec> tasks) {
        return new Policy("t", "src/main.py", "3.11", io.ukernel.abi.Cap.ALL_MASK,
                Policy.NetScope.none(), Map.of(), Policy.Limits.defaults(), RestartPolicy.never(), tasks);
    }

    /** Task control that creates tasks without starting workers; the test plays them. */
    public static final class Control implements TaskControl {
        public final List<Policy.TaskSpec> declared = new ArrayList<>();
        public final List<Task> spawned = new ArrayList<>();
        public int limit = 100;
        private int nextId = 100;

        @Override
        public Optional<Policy.TaskSpec> declared(String name) {
            return declared.stream().filter(s -> s.name().equals(name)).findFirst();
        }

        @Override
        public Optional<Task> spawn(Task parent, Policy.TaskSpec spec, CapabilitySet ceiling,
                List<KernelObject> handles) {
            if (spawned.size() >= limit) {
                return Optional.empty();
            }
            Task t = task(nextId++, spec.name(), ceiling);
            handles.forEach(h -> t.handles().install(h));
            spawned.add(t);
            return Optional.of(t);
        }
    }
}
