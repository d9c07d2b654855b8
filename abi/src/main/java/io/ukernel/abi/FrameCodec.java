package io.ukernel.abi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The wire codec. All integers are little-endian.
 *
 * <pre>
 * request  = u32 length, u32 seq, u16 call,   u16 argc,  value * argc
 * reply    = u32 length, u32 seq, u16 status, u16 count, value * count
 *   status bit 15 (ABI 1.1, Abi.REPLY_GRANTED): a host descriptor travels with this reply
 * value    = u8 tag, payload
 *   tag 1 (I64)   payload = i64
 *   tag 2 (BYTES) payload = u32 n, n bytes
 *   tag 3 (I64S)  payload = u32 n, n * i64
 * </pre>
 *
 * {@code length} counts the bytes after itself and is at most {@link Abi#MAX_FRAME_BYTES}. Frames are
 * self-delimiting, so a worker may write many requests in one {@code write()} (batching) and the kernel
 * answers each with a reply carrying the same {@code seq}; the kernel writes the replies of one batch in one
 * write too. Decoding is total: any byte string yields a frame, a need for more bytes, or {@link
 * Decoded.Malformed} — never an exception.
 */
public final class FrameCodec {
    private static final int BODY_HEADER = 8;

    private FrameCodec() {}

    /** Bytes the request takes on the wire. */
    public static int size(Frame frame) {
        int n = 4 + BODY_HEADER;
        for (Value v : frame.values()) {
            n += v.wireSize();
        }
        return n;
    }

    /** Encodes a frame into a new array. */
    public static byte[] encode(Frame frame) {
        ByteBuffer buf = ByteBuffer.allocate(size(frame));
        encode(frame, buf);
        return buf.array();
    }

    /**
     * Appends a frame to {@code buf} (which must have room for {@link #size(Frame)} bytes).
     *
     * @throws IllegalArgumentException when the frame breaks a published limit: that is a bug in the caller
     */
    public static void encode(Frame frame, ByteBuffer buf) {
        int size = size(frame);
        if (size - 4 > Abi.MAX_FRAME_BYTES || frame.values().size() > Abi.MAX_VALUES) {
            throw new IllegalArgumentException("frame exceeds the ABI limits: " + size + " bytes, "
                    + frame.values().size() + " values");
        }
        ByteOrder order = buf.order();
        buf.order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(size - 4);
        buf.putInt(frame.seq());
        switch (frame) {
            case Frame.Request r -> buf.putShort((short) r.call());
            case Frame.Reply r -> buf.putShort((short) (r.status().code() | (r.granted() ? Abi.REPLY_GRANTED : 0)));
        }
        buf.putShort((short) frame.values().size());
        for (Value v : frame.values()) {
            putValue(v, buf);
        }
        buf.order(order);
    }

    private static void putValue(Value v, ByteBuffer buf) {
        buf.put((byte) v.type().tag());
        switch (v) {
            case Value.I64 i -> buf.putLong(i.value());
            case Value.Bytes b -> {
                buf.putInt(b.value().length);
                buf.put(b.value());
            }
            case Value.I64s a -> {
                buf.putInt(a.value().length);
                for (long x : a.value()) {
                    buf.putLong(x);
                }
            }
        }
    }

    /** Decodes one request starting at {@code buf.position()}; the buffer's position is left unchanged. */
    public static Decoded<Frame.Request> decodeRequest(ByteBuffer buf) {
        return decode(buf, true);
    }

    /** Decodes one reply starting at {@code buf.position()}; the buffer's position is left unchanged. */
    public static Decoded<Frame.Reply> decodeReply(ByteBuffer buf) {
        return decode(buf, false);
    }

    @SuppressWarnings("unchecked")
    private static <F extends Frame> Decoded<F> decode(ByteBuffer in, boolean request) {
        ByteBuffer buf = in.slice().order(ByteOrder.LITTLE_ENDIAN);
        if (buf.remaining() < 4) {
            return new Decoded.NeedMore<>();
        }
        long length = Integer.toUnsignedLong(buf.getInt(0));
        // Checked before anything is allocated or awaited: a hostile length must not make the kernel buffer 4 GiB.
        if (length > Abi.MAX_FRAME_BYTES) {
            return new Decoded.Malformed<>("frame length " + length + " exceeds the limit of "
                    + Abi.MAX_FRAME_BYTES + " bytes", -1, 0);
        }
        if (length < BODY_HEADER) {
            return new Decoded.Malformed<>("frame length " + length + " is shorter than the "
                    + BODY_HEADER + "-byte header", -1, 0);
        }
        int total = 4 + (int) length;
        if (buf.remaining() < total) {
            return new Decoded.NeedMore<>();
        }
        int seq = buf.getInt(4);
        int code = Short.toUnsignedInt(buf.getShort(8));
        int count = Short.toUnsignedInt(buf.getShort(10));
        if (count > Abi.MAX_VALUES) {
            return new Decoded.Malformed<>(count + " values exceed the limit of " + Abi.MAX_VALUES, seq, total);
        }
        List<Value> values = new ArrayList<>(count);
        int pos = 4 + BODY_HEADER;
        for (int i = 0; i < count; i++) {
            if (pos >= total) {
                return new Decoded.Malformed<>("value " + i + " of " + count + " is missing", seq, total);
            }
            ArgType type = ArgType.ofTag(Byte.toUnsignedInt(buf.get(pos)));
            if (type == null) {
                return new Decoded.Malformed<>("value " + i + " has unknown tag " + buf.get(pos), seq, total);
            }
            pos++;
            int fixed = type == ArgType.I64 ? 8 : 4;
            if (total - pos < fixed) {
                return new Decoded.Malformed<>("value " + i + " is truncated", seq, total);
            }
            switch (type) {
                case I64 -> {
                    values.add(new Value.I64(buf.getLong(pos)));
                    pos += 8;
                }
                case BYTES -> {
                    long n = Integer.toUnsignedLong(buf.getInt(pos));
                    pos += 4;
                    if (n > total - pos) {
                        return new Decoded.Malformed<>("value " + i + " claims " + n + " bytes", seq, total);
                    }
                    byte[] b = new byte[(int) n];
                    buf.get(pos, b);
                    values.add(new Value.Bytes(b));
                    pos += (int) n;
                }
                case I64S -> {
                    long n = Integer.toUnsignedLong(buf.getInt(pos));
                    pos += 4;
                    if (n * 8 > total - pos) {
                        return new Decoded.Malformed<>("value " + i + " claims " + n + " integers", seq, total);
                    }
                    long[] a = new long[(int) n];
                    for (int k = 0; k < n; k++) {
                        a[k] = buf.getLong(pos);
                        pos += 8;
                    }
                    values.add(new Value.I64s(a));
                }
            }
        }
        if (pos != total) {
            return new Decoded.Malformed<>((total - pos) + " stray bytes after the last value", seq, total);
        }
        if (request) {
            return (Decoded<F>) new Decoded.Whole<>(new Frame.Request(seq, code, values), total);
        }
        boolean granted = (code & Abi.REPLY_GRANTED) != 0;
        Status status = Status.ofCode(code & ~Abi.REPLY_GRANTED);
        if (status == null || granted && status != Status.OK) {
            return new Decoded.Malformed<>("unknown status code " + code, seq, total);
        }
        return (Decoded<F>) new Decoded.Whole<>(new Frame.Reply(seq, status, values, granted), total);
    }

    /**
     * Checks values against a signature: the count and every type must match. Returns {@code null} when they do,
     * else a reason fit for a console line.
     */
    public static String checkSignature(List<ArgType> signature, List<Value> values) {
        if (signature.size() != values.size()) {
            return "expected " + signature.size() + " values, got " + values.size();
        }
        for (int i = 0; i < signature.size(); i++) {
            if (values.get(i).type() != signature.get(i)) {
                return "value " + i + " must be " + signature.get(i) + ", got " + values.get(i).type();
            }
        }
        return null;
    }
}
