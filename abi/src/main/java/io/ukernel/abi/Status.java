package io.ukernel.abi;

/**
 * The result of every ABI call. A small, stable set (modelled on Zircon's): a guest error is a value, never an
 * exception. Numbers are part of ABI v1 and never change once released.
 */
public enum Status implements AbiConstant {
    OK(0, "the call succeeded"),
    ERR_UNSUPPORTED(1, "the call (or the variant asked for) is reserved, or not implemented by this kernel yet"),
    ERR_DENIED(2, "the task lacks the capability, or a scope (allow-list, preopen) refuses the target"),
    ERR_BADHANDLE(3, "the handle number is not in the calling task's table, or names the wrong kind of object"),
    ERR_INVAL(4, "an argument is malformed or out of range"),
    ERR_WOULDBLOCK(5, "the operation cannot complete now; poll for readiness and retry"),
    ERR_INPROGRESS(6, "the operation has started and completes later (readiness reports the outcome)"),
    ERR_CLOSED(7, "the object or its peer is closed"),
    ERR_LIMIT(8, "a quota (tasks, handles, queued bytes) is exhausted"),
    ERR_NOTFOUND(9, "the named entry, file or task does not exist"),
    ERR_TIMEOUT(10, "the deadline passed"),
    ERR_IO(11, "the host failed the operation"),
    ERR_REFUSED(12, "the peer refused the connection"),
    ERR_ADDRINUSE(13, "the address is already in use"),
    ERR_TOOBIG(14, "the message or buffer exceeds a published limit"),
    ERR_BUSY(15, "the worker holds the host descriptor of this socket (granted): the kernel no longer does this");

    private static final Status[] BY_CODE = values();
    private final int code;
    private final String meaning;

    Status(int code, String meaning) {
        this.code = code;
        this.meaning = meaning;
    }

    /** The 16-bit code on the wire. */
    public int code() {
        return code;
    }

    /** One line saying when this status is returned. */
    public String meaning() {
        return meaning;
    }

    @Override
    public long value() {
        return code;
    }

    @Override
    public String abiName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The status with this code, or {@code null} when the code is unknown. */
    public static Status ofCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
