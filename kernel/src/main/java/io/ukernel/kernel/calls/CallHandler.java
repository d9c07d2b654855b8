package io.ukernel.kernel.calls;

import io.ukernel.kernel.Task;

/**
 * Handles one call for one task: decode the arguments, check the handle and scope, delegate, answer. Runs on the
 * reactor thread; the capability named by the call and the argument types are already checked.
 */
@FunctionalInterface
public interface CallHandler {
    Outcome handle(Task task, Args args);
}
