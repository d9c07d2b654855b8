package io.ukernel.abi;

/** The type tag of one value in a frame (see {@link FrameCodec} for the byte layout). */
public enum ArgType {
    /** A signed 64-bit little-endian integer: handles, masks, lengths, times. */
    I64(1),
    /** A length-prefixed byte string: payloads, UTF-8 names and paths. */
    BYTES(2),
    /** A length-prefixed array of 64-bit integers: handle lists, poll pairs. */
    I64S(3);

    private final int tag;

    ArgType(int tag) {
        this.tag = tag;
    }

    /** The one-byte tag on the wire. */
    public int tag() {
        return tag;
    }

    /** The type with this tag, or {@code null}. */
    public static ArgType ofTag(int tag) {
        return switch (tag) {
            case 1 -> I64;
            case 2 -> BYTES;
            case 3 -> I64S;
            default -> null;
        };
    }
}
