package io.ukernel.kernel.io;

import io.ukernel.abi.Status;
import java.io.IOException;

/**
 * A host file operation failed with {@code errno}. Thrown by {@link Preopens} and {@link OpenFile}; the IO call
 * handlers turn it into a status with {@link #status()}, the one place the errno → status mapping lives.
 */
public final class ErrnoException extends IOException {
    private final int errno;

    /**
     * @param errno the host's error number
     * @param what  what was being done, for the message
     */
    public ErrnoException(int errno, String what) {
        this(errno, what, null);
    }

    /**
     * A refusal the kernel itself decided (not the host's answer), with its reason for the console.
     *
     * @param reason what {@link #denial()} says, or null for the errno's usual words
     */
    public ErrnoException(int errno, String what, String reason) {
        super(what + ": " + Libc.errnoName(errno));
        this.errno = errno;
        this.reason = reason;
    }

    private final String reason;

    /** The host's error number. */
    public int errno() {
        return errno;
    }

    /**
     * The ABI status for this failure (docs/kernel-abi.md §10): a name that does not resolve is {@code NOTFOUND};
     * a path leading out of its preopen ({@code EXDEV}, from openat2's RESOLVE_BENEATH or the walk) or a host
     * refusal is {@code DENIED}; a request that cannot apply to this file (a directory written, an existing file
     * with EXCLUSIVE, too many links, a bad position) is {@code INVAL}; anything else is {@code IO}.
     */
    public Status status() {
        return switch (errno) {
            case Libc.ENOENT, Libc.ENOTDIR -> Status.ERR_NOTFOUND;
            case Libc.EXDEV, Libc.EACCES, Libc.EPERM, Libc.EROFS -> Status.ERR_DENIED;
            case Libc.ELOOP, Libc.EEXIST, Libc.EISDIR, Libc.EINVAL, Libc.ESPIPE, Libc.ENAMETOOLONG,
                    Libc.EOVERFLOW -> Status.ERR_INVAL;
            default -> Status.ERR_IO;
        };
    }

    /** Why a {@code DENIED} failure was refused, in words for the console. */
    public String denial() {
        if (reason != null) {
            return reason;
        }
        return switch (errno) {
            case Libc.EXDEV -> "the path leads outside the preopen (through a symbolic link)";
            case Libc.EROFS -> "the host file system is read-only";
            default -> "the host denies access (" + Libc.errnoName(errno) + ")";
        };
    }
}
