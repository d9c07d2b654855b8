package io.ukernel.kernel.net;

import io.ukernel.abi.Status;
import java.io.IOException;
import java.net.BindException;
import java.net.SocketTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.util.Locale;

/** Maps the host's socket failures to ABI statuses, in one place. The JDK names errno only in messages. */
public final class HostErrors {
    private HostErrors() {}

    /** The status a worker sees for {@code e}; {@code ERR_IO} when nothing more precise applies. */
    public static Status status(IOException e) {
        String m = e.getMessage() == null ? "" : e.getMessage().toLowerCase(Locale.ROOT);
        if (m.contains("refused")) {
            return Status.ERR_REFUSED;
        }
        if (m.contains("already in use")) {
            return Status.ERR_ADDRINUSE;
        }
        if (e instanceof BindException && m.contains("assign requested address")) {
            return Status.ERR_INVAL; // EADDRNOTAVAIL: the address is not local to the host
        }
        if (e instanceof SocketTimeoutException || m.contains("timed out")) {
            return Status.ERR_TIMEOUT;
        }
        if (e instanceof ClosedChannelException || m.contains("reset") || m.contains("broken pipe")) {
            return Status.ERR_CLOSED;
        }
        return Status.ERR_IO;
    }
}
