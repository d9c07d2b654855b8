package io.ukernel.kernel.calls;

import io.ukernel.abi.Value;
import java.util.List;

/**
 * A request's arguments, already checked against the call's signature, so the typed getters cannot fail.
 *
 * @param seq    the request's sequence number (a parked call answers with it later)
 * @param values the arguments
 */
public record Args(int seq, List<Value> values) {
    public long i64(int index) {
        return ((Value.I64) values.get(index)).value();
    }

    public byte[] bytes(int index) {
        return ((Value.Bytes) values.get(index)).value();
    }

    public long[] i64s(int index) {
        return ((Value.I64s) values.get(index)).value();
    }
}
