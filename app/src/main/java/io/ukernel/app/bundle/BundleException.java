package io.ukernel.app.bundle;

import java.io.IOException;

/**
 * A bundle that cannot be written or read: an input the format cannot hold (a link, a path too long) or an
 * archive that is malformed or unsafe to extract. The message names the entry or file concerned.
 */
public final class BundleException extends IOException {
    /** @param message what is wrong, naming the entry or file */
    public BundleException(String message) {
        super(message);
    }
}
