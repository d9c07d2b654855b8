package io.ukernel.kernel.calls;

import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import java.util.List;

/** What a call handler returns: results, or a status with a reason for the console. Guest errors never throw. */
public sealed interface Outcome permits Outcome.Ok, Outcome.Err {

    record Ok(List<Value> results) implements Outcome {}

    /**
     * @param status the ABI status
     * @param reason why, in words, for debug/audit lines (never sent on the wire)
     */
    record Err(Status status, String reason) implements Outcome {}

    static Outcome ok(Value... results) {
        return new Ok(List.of(results));
    }

    static Outcome err(Status status, String reason) {
        return new Err(status, reason);
    }
}
