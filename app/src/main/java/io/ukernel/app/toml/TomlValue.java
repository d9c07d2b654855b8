package io.ukernel.app.toml;

/**
 * A parsed TOML value and the 1-based line it starts on. Strings, integers and booleans are records; arrays and
 * tables are built up while parsing and read-only once {@link Toml#parse} returns.
 */
public sealed interface TomlValue permits TomlValue.Str, TomlValue.Int, TomlValue.Bool, TomlArray, TomlTable {

    /** The 1-based line where the value starts. */
    int line();

    /** How the value's type is named in messages: "a string", "an integer", ... */
    String typeName();

    /** A basic or literal string, escapes resolved. */
    record Str(String value, int line) implements TomlValue {
        @Override
        public String typeName() {
            return "a string";
        }
    }

    /** A 64-bit integer. */
    record Int(long value, int line) implements TomlValue {
        @Override
        public String typeName() {
            return "an integer";
        }
    }

    /** {@code true} or {@code false}. */
    record Bool(boolean value, int line) implements TomlValue {
        @Override
        public String typeName() {
            return "a boolean";
        }
    }

    /** Renders the value compactly for messages, e.g. {@code "16"} or {@code [...]}. */
    static String describe(TomlValue v) {
        return switch (v) {
            case Str s -> s.value().length() > 40 ? quote(s.value().substring(0, 40)) + "..." : quote(s.value());
            case Int i -> Long.toString(i.value());
            case Bool b -> Boolean.toString(b.value());
            case TomlArray a -> "an array of " + a.size();
            case TomlTable t -> "a table";
        };
    }

    private static String quote(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + '"';
    }
}
