package io.ukernel.kernel.calls;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Cap;
import io.ukernel.abi.Status;
import io.ukernel.abi.TaskState;
import io.ukernel.abi.Value;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.policy.PolicyHints;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TaskControl;
import io.ukernel.kernel.TaskRef;
import io.ukernel.kernel.caps.CapabilitySet;
import io.ukernel.kernel.handle.KernelObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** {@code task_self}, {@code task_yield}, {@code task_spawn}, {@code task_exit}, {@code task_status}. */
final class TaskCalls {
    private final TaskControl control;
    private final PolicyHints hints;

    TaskCalls(TaskControl control, PolicyHints hints) {
        this.control = control;
        this.hints = hints;
    }

    Outcome self(Task task, Args args) {
        return Outcome.ok(Value.of(task.id()), Value.of(task.name()));
    }

    /**
     * Each worker has its own connection and the reactor serves every ready connection in turn, so there is no
     * run queue to give up a place in: yielding is answering at once.
     */
    Outcome yield(Task task, Args args) {
        return Outcome.ok();
    }

    /**
     * Starts a declared task with at most the caller's active capabilities, moving {@code handles} into it
     * (all or none), and returns a task handle that becomes READABLE when it ends.
     */
    Outcome spawn(Task task, Args args) {
        String entry;
        try {
            entry = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(args.bytes(0))).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            return Outcome.err(Status.ERR_INVAL, "entry is not UTF-8");
        }
        long caps = args.i64(1);
        long[] handles = args.i64s(2);
        if ((caps & ~Cap.ALL_MASK) != 0) {
            return Outcome.err(Status.ERR_INVAL, "unknown capability bits in " + Cap.format(caps));
        }
        Optional<Policy.TaskSpec> spec = control.declared(entry);
        if (spec.isEmpty()) {
            return Outcome.err(Status.ERR_NOTFOUND, hints.noTask(entry));
        }
        CapabilitySet wanted = new CapabilitySet(caps);
        if (!task.caps().active().containsAll(wanted)) {
            return Outcome.err(Status.ERR_DENIED, "caps " + wanted + " exceed the caller's active "
                    + task.caps().active());
        }
        if (handles.length > Abi.MAX_MSG_HANDLES) {
            return Outcome.err(Status.ERR_TOOBIG, handles.length + " handles exceed " + Abi.MAX_MSG_HANDLES);
        }
        Set<Long> seen = new HashSet<>();
        for (long h : handles) {
            if (!seen.add(h) || task.handles().get(h).isEmpty()) {
                return Outcome.err(Status.ERR_BADHANDLE, "handle " + h + " is not open or is listed twice");
            }
            if (task.handles().get(h).orElseThrow().granted()) {
                return Outcome.err(Status.ERR_BUSY, "handle " + h + " is a granted socket: its descriptor is in"
                        + " this worker's hands, so the handle cannot move to another task");
            }
        }
        if (task.handles().room() <= 0 && handles.length == 0) {
            return Outcome.err(Status.ERR_LIMIT, "no room for the task handle: "
                    + IpcCalls.usage(task.handles(), hints));
        }
        if (handles.length > task.handles().limit()) {
            return Outcome.err(Status.ERR_LIMIT, handles.length + " handles do not fit in the child's table "
                    + "(limits.handles=" + task.handles().limit() + ")");
        }
        List<KernelObject> moved = new ArrayList<>();
        for (long h : handles) {
            moved.add(task.handles().get(h).orElseThrow());
        }
        CapabilitySet ceiling = wanted.intersect(new CapabilitySet(spec.get().caps()));
        Optional<Task> child = control.spawn(task, spec.get(), ceiling, moved);
        if (child.isEmpty()) {
            return Outcome.err(Status.ERR_LIMIT, "limits.tasks reached");
        }
        for (long h : handles) {
            task.handles().remove(h);
        }
        long ref = task.handles().install(new TaskRef(child.get())).orElseThrow();
        return Outcome.ok(Value.of(ref));
    }

    /** State and exit status of the task behind a task handle. */
    Outcome status(Task task, Args args) {
        Optional<TaskRef> ref = task.handles().get(args.i64(0), TaskRef.class);
        if (ref.isEmpty()) {
            return Outcome.err(Status.ERR_BADHANDLE, "handle " + args.i64(0) + " is not a task handle");
        }
        Task t = ref.get().task();
        boolean exited = t.state() == Task.State.EXITED;
        return Outcome.ok(Value.of((exited ? TaskState.EXITED : TaskState.RUNNING).value()),
                Value.of(exited ? t.exitStatus() : 0));
    }

    /** Records the code; the transport answers, flushes and then closes the task's connection. */
    Outcome exit(Task task, Args args) {
        long code = args.i64(0);
        if (code < 0 || code > 255) {
            return Outcome.err(io.ukernel.abi.Status.ERR_INVAL, "exit code " + code + " is not within 0..255");
        }
        task.requestExit((int) code);
        return Outcome.ok();
    }
}
