package io.ukernel.cli;

/** A problem the user can fix (missing directory, python3 too old, ...): reported as one line, exit code 1. */
public final class UserError extends Exception {
    public UserError(String message) {
        super(message);
    }

    public UserError(String message, Throwable cause) {
        super(message, cause);
    }
}
