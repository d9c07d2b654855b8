package io.ukernel.abi;

import static io.ukernel.abi.ArgType.BYTES;
import static io.ukernel.abi.ArgType.I64;
import static io.ukernel.abi.ArgType.I64S;

import java.util.List;
import java.util.Locale;

/**
 * The call table of ABI v1, declared in one place: number, family, capability checked, argument and result
 * types, and whether the call is reserved. Numbers are stable once released. The kernel's {@code CallTable}
 * maps each call to its handler; the C header, the Python constants and docs/kernel-abi.md follow this enum.
 */
public enum Call implements AbiConstant {
    // meta & caps ------------------------------------------------------------------------------------------
    HELLO(0x00, null, sig(BYTES, I64), sig(I64, I64),
            "bind this connection to the task whose token it presents; first frame on every connection"),
    ABI_VERSION(0x01, null, sig(), sig(I64), "the kernel's ABI version, major << 16 | minor"),
    CAP_ACQUIRE(0x02, null, sig(I64), sig(I64), "add capabilities to the task's active set, within its ceiling"),
    CAP_DROP(0x03, null, sig(I64), sig(I64), "remove capabilities irrevocably (active set and ceiling)"),
    CAP_QUERY(0x04, null, sig(), sig(I64, I64), "the task's active capabilities and its ceiling"),
    HANDLE_CLOSE(0x05, null, sig(I64), sig(), "close a handle of any kind"),
    SANDBOX_NOTIFY(0x06, null, sig(I64), sig(),
            "hand the kernel this worker's seccomp notification descriptor (the loader, once, when asked to)"),

    // log ----------------------------------------------------------------------------------------------------
    LOG_WRITE(0x10, Cap.LOG, sig(I64, BYTES), sig(), "write one console line at a level"),

    // time ---------------------------------------------------------------------------------------------------
    TIME_MONOTONIC_NS(0x20, Cap.TIME, sig(), sig(I64), "nanoseconds since kernel boot, never going back"),
    TIME_WALL_NS(0x21, Cap.TIME, sig(), sig(I64), "wall-clock nanoseconds since the Unix epoch"),

    // task ---------------------------------------------------------------------------------------------------
    TASK_SELF(0x30, null, sig(), sig(I64, BYTES), "the calling task's id and name"),
    TASK_YIELD(0x31, null, sig(), sig(), "give other tasks a turn; returns at once when none wait"),
    TASK_SPAWN(0x32, Cap.TASK, sig(BYTES, I64, I64S), sig(I64),
            "start a manifest-declared entry as a new task with at most the caller's capabilities"),
    TASK_EXIT(0x33, null, sig(I64), sig(), "end the calling task with an exit code"),
    TASK_STATUS(0x34, Cap.TASK, sig(I64), sig(I64, I64), "state and exit code of the task behind a task handle"),

    // ipc ----------------------------------------------------------------------------------------------------
    IPC_CHANNEL_CREATE(0x40, Cap.IPC, sig(), sig(I64, I64), "create a channel; returns its two endpoints"),
    IPC_SEND(0x41, Cap.IPC, sig(I64, BYTES, I64S), sig(), "queue a message, moving handles to the peer"),
    IPC_RECV(0x42, Cap.IPC, sig(I64), sig(BYTES, I64S), "take the next message and the handles it carried"),
    IPC_CLOSE(0x43, Cap.IPC, sig(I64), sig(), "close a channel endpoint; the peer sees HANGUP"),
    IPC_SEND_MANY(0x44, Cap.IPC, sig(I64, BYTES, I64S, I64S, I64S), sig(I64),
            "queue the longest prefix of a run of messages that fits; returns how many were queued (1.3)"),
    IPC_RECV_MANY(0x45, Cap.IPC, sig(I64, I64, I64), sig(BYTES, I64S, I64S, I64S),
            "take the oldest queued messages, up to a count and a byte budget, in one reply (1.3)"),

    // net ----------------------------------------------------------------------------------------------------
    NET_SOCKET(0x50, Cap.NET, sig(I64, I64), sig(I64), "create an unbound socket (no authority needed yet)"),
    NET_BIND(0x51, Cap.NET, sig(I64, BYTES, I64), sig(), "bind to host:port if net.bind allows it"),
    NET_LISTEN(0x52, Cap.NET, sig(I64, I64), sig(), "start accepting connections"),
    NET_ACCEPT(0x53, Cap.NET, sig(I64), sig(I64, BYTES, I64), "take a pending connection"),
    NET_CONNECT(0x54, Cap.NET, sig(I64, BYTES, I64), sig(),
            "connect to host:port if net.connect allows it; non-blocking"),
    NET_SEND(0x55, Cap.NET, sig(I64, BYTES), sig(I64), "send bytes; returns how many were queued"),
    NET_RECV(0x56, Cap.NET, sig(I64, I64), sig(BYTES), "receive up to n bytes; empty means end of stream"),
    NET_SHUTDOWN(0x57, Cap.NET, sig(I64, I64), sig(), "shut down reading, writing or both"),
    NET_CLOSE(0x58, Cap.NET, sig(I64), sig(), "close a socket"),
    NET_ADDR(0x59, Cap.NET, sig(I64, I64), sig(BYTES, I64), "local or peer address of a socket"),
    NET_ERROR(0x5a, Cap.NET, sig(I64), sig(I64), "take the socket's pending error status (OK when none)"),
    NET_SENDTO(0x5b, Cap.NET, sig(I64, BYTES, BYTES, I64), sig(I64),
            "send one UDP datagram to host:port if net.connect allows it (1.2)"),
    NET_RECVFROM(0x5c, Cap.NET, sig(I64, I64), sig(BYTES, BYTES, I64),
            "take the oldest UDP datagram and its sender (1.2)"),

    // io -----------------------------------------------------------------------------------------------------
    IO_OPEN(0x60, Cap.IO, sig(BYTES, BYTES, I64), sig(I64), "open a path inside a preopened directory"),
    IO_READ(0x61, Cap.IO, sig(I64, I64), sig(BYTES), "read up to n bytes; empty means end of file"),
    IO_WRITE(0x62, Cap.IO, sig(I64, BYTES), sig(I64), "write bytes; returns how many were written"),
    IO_SEEK(0x63, Cap.IO, sig(I64, I64, I64), sig(I64), "move the file position; returns the new position"),
    IO_STAT(0x64, Cap.IO, sig(I64), sig(I64, I64, I64), "size, modification time (ns) and kind of an open file"),
    IO_CLOSE(0x65, Cap.IO, sig(I64), sig(), "close a file"),

    // poll ---------------------------------------------------------------------------------------------------
    IO_POLL(0x70, null, sig(I64S, I64), sig(I64S),
            "wait until any (handle, interest) pair is ready or the timeout passes");

    private final int number;
    private final Cap cap;
    private final List<ArgType> args;
    private final List<ArgType> results;
    private final String summary;
    private final boolean reserved;

    Call(int number, Cap cap, List<ArgType> args, List<ArgType> results, String summary) {
        this(number, cap, args, results, summary, false);
    }

    Call(int number, Cap cap, List<ArgType> args, List<ArgType> results, String summary, boolean reserved) {
        this.number = number;
        this.cap = cap;
        this.args = args;
        this.results = results;
        this.summary = summary;
        this.reserved = reserved;
    }

    private static List<ArgType> sig(ArgType... types) {
        return List.of(types);
    }

    /** The call number on the wire. */
    public int number() {
        return number;
    }

    /** The family, derived from the number's block. */
    public Family family() {
        Family f = null;
        for (Family candidate : Family.values()) {
            if (candidate.base() <= number) {
                f = candidate;
            }
        }
        return f;
    }

    /** The capability the calling task must hold actively, or {@code null} when none is needed. */
    public Cap cap() {
        return cap;
    }

    /** The argument types, in order. */
    public List<ArgType> args() {
        return args;
    }

    /** The result types of a successful reply, in order. */
    public List<ArgType> results() {
        return results;
    }

    /** One line saying what the call does. */
    public String summary() {
        return summary;
    }

    /** Reserved calls are declared but answer {@code ERR_UNSUPPORTED} in this ABI version. */
    public boolean reserved() {
        return reserved;
    }

    @Override
    public long value() {
        return number;
    }

    @Override
    public String abiName() {
        return name().toLowerCase(Locale.ROOT);
    }

    private static final Call[] BY_NUMBER = index();

    private static Call[] index() {
        Call[] table = new Call[0x100];
        for (Call c : values()) {
            if (table[c.number] != null) {
                throw new ExceptionInInitializerError("duplicate call number " + c.number);
            }
            table[c.number] = c;
        }
        return table;
    }

    /** The call with this number, or {@code null} when no call has it. */
    public static Call ofNumber(int number) {
        return number >= 0 && number < BY_NUMBER.length ? BY_NUMBER[number] : null;
    }
}
