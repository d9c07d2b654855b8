package io.ukernel.kernel;

import io.ukernel.abi.Event;
import io.ukernel.kernel.poll.Waitable;

/**
 * A handle on a task (what {@code task_spawn} returns): READABLE once the task has ended, when
 * {@code task_status} gives its exit status. Closing it does not stop the task.
 */
public final class TaskRef extends Waitable {
    private final Task task;

    public TaskRef(Task task) {
        this.task = task;
        task.observe(this);
        if (task.state() == Task.State.EXITED) {
            taskExited();
        }
    }

    public Task task() {
        return task;
    }

    void taskExited() {
        update(Event.READABLE.bit(), 0);
    }

    @Override
    public String kind() {
        return "task";
    }

    @Override
    protected void onClose() {
        task.unobserve(this);
    }
}
