package io.ukernel.app.bundle;

/**
 * A build that cannot proceed for a reason the user must fix outside the manifest's syntax: no {@code python3},
 * a CPython older than the manifest asks for, an entry file that does not exist. The message says what to do.
 */
public final class BuildException extends Exception {
    /** @param message what is wrong and how to fix it */
    public BuildException(String message) {
        super(message);
    }

    /** @param message what is wrong and how to fix it; {@code cause} is the underlying failure */
    public BuildException(String message, Throwable cause) {
        super(message, cause);
    }
}
