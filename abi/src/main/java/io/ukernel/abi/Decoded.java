package io.ukernel.abi;

/**
 * The outcome of decoding from a buffer: a whole frame, a need for more bytes, or a malformed frame. Decoding
 * never throws on bad input; the connection policy for {@link Malformed} is decided by the transport.
 */
public sealed interface Decoded<F extends Frame> permits Decoded.Whole, Decoded.NeedMore, Decoded.Malformed {

    /** A complete frame that took {@code consumed} bytes of the buffer. */
    record Whole<F extends Frame>(F frame, int consumed) implements Decoded<F> {}

    /** The buffer holds only part of a frame. */
    record NeedMore<F extends Frame>() implements Decoded<F> {}

    /**
     * The frame is malformed. When {@code consumed} is positive the frame's boundary is known and the stream
     * can continue after it ({@code seq} then names the request to answer with {@code ERR_INVAL}); when it is
     * zero the stream cannot be resynchronised and the connection must be dropped.
     */
    record Malformed<F extends Frame>(String reason, int seq, int consumed) implements Decoded<F> {
        public boolean recoverable() {
            return consumed > 0;
        }
    }
}
