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

    /** The kernel's answer. A reply with a status other than {@code OK} carries no values. */
    record Reply(int seq, Status status, List<Value> values) implements Frame {
        public Reply {
            values = List.copyOf(values);
        }

        public static Reply ok(int seq, Value... values) {
            return new Reply(seq, Status.OK, List.of(values));
        }

        public static Reply error(int seq, Status status) {
            return new Reply(seq, status, List.of());
        }
    }
}
