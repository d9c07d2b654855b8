package io.ukernel.kernel.calls;

import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import java.util.List;

/** What a call handler returns: results, or a status with a reason for the console. Guest errors never throw. */
public sealed interface Outcome permits Outcome.Ok, Outcome.Err, Outcome.Later {

    /**
     * @param results the values of the reply
     * @param granted whether the reply carries the descriptor the handler staged ({@link
     *                io.ukernel.kernel.Task#stageGrant}): ABI 1.1 granted sockets
     */
    record Ok(List<Value> results, boolean granted) implements Outcome {
        public Ok(List<Value> results) {
            this(results, false);
        }
    }

    /**
     * @param status  the ABI status
     * @param reason  why, in words, for debug/audit lines (never sent on the wire)
     * @param audited whether the handler already wrote the audit line (else the dispatcher writes one for a
     *                denial or a bad handle)
     */
    record Err(Status status, String reason, boolean audited) implements Outcome {
        public Err(Status status, String reason) {
            this(status, reason, false);
        }
    }

    /**
     * No reply now: the handler parked the call (a blocking {@code io_poll}) and will answer it through
     * {@link io.ukernel.kernel.Task#replyLater} with the request's seq.
     */
    record Later() implements Outcome {}

    static Outcome ok(Value... results) {
        return new Ok(List.of(results));
    }

    /** Results that travel with the descriptor the handler just staged. */
    static Outcome granted(Value... results) {
        return new Ok(List.of(results), true);
    }

    static Outcome err(Status status, String reason) {
        return new Err(status, reason);
    }

    /** An error whose audit line the handler has written itself. */
    static Outcome audited(Status status, String reason) {
        return new Err(status, reason, true);
    }
}
