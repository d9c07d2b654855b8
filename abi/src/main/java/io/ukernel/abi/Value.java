package io.ukernel.abi;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** One typed value in a frame: an argument of a request or a result of a reply. */
public sealed interface Value permits Value.I64, Value.Bytes, Value.I64s {

    /** The wire type of this value. */
    ArgType type();

    /** Bytes this value takes on the wire, tag included. */
    int wireSize();

    static I64 of(long v) {
        return new I64(v);
    }

    static Bytes of(byte[] v) {
        return new Bytes(v);
    }

    static Bytes of(String utf8) {
        return new Bytes(utf8.getBytes(StandardCharsets.UTF_8));
    }

    static I64s of(long... v) {
        return new I64s(v);
    }

    /** A signed 64-bit integer. */
    record I64(long value) implements Value {
        @Override
        public ArgType type() {
            return ArgType.I64;
        }

        @Override
        public int wireSize() {
            return 1 + 8;
        }
    }

    /** A byte string. Equality is by content. */
    record Bytes(byte[] value) implements Value {
        @Override
        public ArgType type() {
            return ArgType.BYTES;
        }

        @Override
        public int wireSize() {
            return 1 + 4 + value.length;
        }

        /** The bytes decoded as UTF-8 (malformed sequences replaced). */
        public String utf8() {
            return new String(value, StandardCharsets.UTF_8);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Bytes b && Arrays.equals(value, b.value);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(value);
        }

        @Override
        public String toString() {
            return "Bytes[" + value.length + "]";
        }
    }

    /** An array of 64-bit integers. Equality is by content. */
    record I64s(long[] value) implements Value {
        @Override
        public ArgType type() {
            return ArgType.I64S;
        }

        @Override
        public int wireSize() {
            return 1 + 4 + 8 * value.length;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof I64s a && Arrays.equals(value, a.value);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(value);
        }

        @Override
        public String toString() {
            return "I64s" + Arrays.toString(value);
        }
    }
}
