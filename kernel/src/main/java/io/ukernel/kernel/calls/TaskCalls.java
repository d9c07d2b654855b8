package io.ukernel.kernel.calls;

import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;

/** {@code task_self}, {@code task_yield}, {@code task_exit}. */
final class TaskCalls {

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
