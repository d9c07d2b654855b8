package io.ukernel.abi;

/**
 * Version and published limits of the ABI, and the names of the spawn-time environment the kernel hands a
 * worker. Generated into {@code include/ukernel_abi.h} and {@code python/ukernel/_abi.py}.
 */
public final class Abi {
    /** Incompatible changes bump the major version (see docs/kernel-abi.md, "Changing the ABI"). */
    public static final int VERSION_MAJOR = 1;
    /** Compatible additions bump the minor version. */
    public static final int VERSION_MINOR = 3;
    /** {@code abi_version} returns {@code major << 16 | minor}. */
    public static final long VERSION = ((long) VERSION_MAJOR << 16) | VERSION_MINOR;

    /**
     * Largest frame body (everything after the 4-byte length). Checked before any allocation: a larger length
     * is a protocol violation and the kernel drops the connection.
     */
    public static final int MAX_FRAME_BYTES = 1 << 20;
    /** Most values in one frame. */
    public static final int MAX_VALUES = 64;
    /** Bytes in a request header: length u32, seq u32, call u16, argc u16. */
    public static final int REQUEST_HEADER_BYTES = 12;
    /** Bytes in a reply header: length u32, seq u32, status u16, count u16. */
    public static final int REPLY_HEADER_BYTES = 12;
    /**
     * ABI 1.1: a bit of a reply's status field saying that one host descriptor travels with this reply
     * ({@code SCM_RIGHTS} on the kernel connection, attached to the {@code sendmsg} that carries the reply's first
     * byte). The status is the field without this bit. Only replies to calls that asked for a direct socket
     * ({@code NET_DIRECT}) carry it.
     */
    public static final int REPLY_GRANTED = 0x8000;
    /** Most handles moved by one {@code ipc_send} (Zircon's limit). */
    public static final int MAX_MSG_HANDLES = 64;
    /** Most payload bytes in one {@code ipc_send} (Zircon's limit). */
    public static final int MAX_MSG_BYTES = 64 * 1024;
    /** (1.3) Most messages in one {@code ipc_send_many} or {@code ipc_recv_many}. */
    public static final int MAX_BATCH_MSGS = 1024;
    /**
     * (1.3) Most payload bytes one {@code ipc_recv_many} reply carries (its first message is taken whole whatever its
     * size), and most handles it carries in all: the reply stays well inside {@code MAX_FRAME_BYTES}.
     */
    public static final int MAX_BATCH_BYTES = 512 * 1024;
    /** (1.3) Most handles one {@code ipc_recv_many} reply installs, all its messages together. */
    public static final int MAX_BATCH_HANDLES = 1024;
    /** Most pairs in one {@code io_poll}. */
    public static final int MAX_POLL_ITEMS = 1024;
    /**
     * Most calls one task may have parked at once ({@code io_poll} waiting for readiness): one more is
     * {@code ERR_LIMIT}. Bounds the waiters, timers and late replies a task makes the kernel hold.
     */
    public static final int MAX_PARKED_CALLS = 64;
    /** Longest message of one {@code log_write}. */
    public static final int MAX_LOG_BYTES = 16 * 1024;
    /** Bytes in the handshake token. */
    public static final int TOKEN_BYTES = 16;

    /** Environment variable holding the path of the kernel's Unix socket endpoint. */
    public static final String ENV_ENDPOINT = "UKERNEL_ENDPOINT";
    /** Environment variable holding the hex handshake token that binds the connection to its task. */
    public static final String ENV_TOKEN = "UKERNEL_TOKEN";
    /**
     * Environment variable of a spawned task: the numbers of the handles {@code task_spawn} moved into it,
     * comma-separated, in the order the parent listed them (handle numbers are random, so it cannot guess them).
     */
    public static final String ENV_HANDLES = "UKERNEL_HANDLES";
    /**
     * How the Python loader's confinement report begins: the first line of a worker's stdout, written before the
     * app's code is imported. The kernel trusts that one line, and no other, to say what the worker applied
     * ({@code sandbox.applied} on the console); docs/confinement.md, "The console".
     */
    public static final String REPORT_CONFINED = "ukernel: confined: ";
    /** As {@link #REPORT_CONFINED}, for a worker run without its sandbox ({@code sandbox.off}). */
    public static final String REPORT_UNCONFINED = "ukernel: unconfined: ";

    private Abi() {}

    /** Formats a packed version as {@code 1.0}. */
    public static String formatVersion(long version) {
        return (version >>> 16) + "." + (version & 0xffff);
    }
}
