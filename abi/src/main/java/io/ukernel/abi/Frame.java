package io.ukernel.abi;

import java.util.List;

/** The two kinds of frame on the transport. Both carry a sequence number chosen by the caller. */
public sealed interface Frame permits Frame.Request, Frame.Reply {

    /** Sequence number: a reply carries the number of the request it answers. */
    int seq();

    /** Values after the header. */
    List<Value> values();

    /**
     * A call from a worker to the kernel. {@code call} is the raw number so that an unknown number can still be
     * decoded and answered with {@code ERR_INVAL}.
     */
    record Request(int seq, int call, List<Value> values) implements Frame {
        public Request {
            values = List.copyOf(values);
        }

        public Request(int seq, Call call, Value... values) {
            this(seq, call.number(), List.of(values));
        }
    }

    /**
     * The kernel's answer. A reply with a status other than {@code OK} carries no values. {@code granted} (ABI
     * 1.1, {@link Abi#REPLY_GRANTED} on the wire) says a host descriptor travels with it; only an {@code OK} reply
     * can be granted. The descriptor itself is the transport's business, not the codec's.
     */
    record Reply(int seq, Status status, List<Value> values, boolean granted) implements Frame {
        public Reply {
            values = List.copyOf(values);
            if (granted && status != Status.OK) {
                throw new IllegalArgumentException("only an OK reply can carry a descriptor");
            }
        }

        public Reply(int seq, Status status, List<Value> values) {
            this(seq, status, values, false);
        }

        /** An OK reply with a descriptor attached by the transport. */
        public static Reply granted(int seq, Value... values) {
            return new Reply(seq, Status.OK, List.of(values), true);
        }

        public static Reply ok(int seq, Value... values) {
            return new Reply(seq, Status.OK, List.of(values));
        }

        public static Reply error(int seq, Status status) {
            return new Reply(seq, status, List.of());
        }
    }
}
