package io.ukernel.app.json;

import io.ukernel.kernel.console.Escape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The project's one JSON codec: the bundle's index and metadata, Firecracker's API bodies, QMP messages, OCI
 * layouts, the run registry and the host's API. Writes {@link Map} (insertion order kept, or keys sorted in the
 * bundle's fixed layout by {@link #writeSorted}), {@link List}, {@link String}, {@link Number}, {@link Boolean} and
 * {@code null}; reads into the same types ({@code long} for integers, {@code double} otherwise). Strings are
 * escaped by the console's {@link Escape#json}, so there is one escaper.
 *
 * <p>Hand-written rather than Jackson, for start-up: every {@code ukernel run} writes its instance record
 * ({@code instance.json}) and the CLI's {@code ps}/{@code logs} read them, each in a fresh JVM. Measured in fresh
 * JVMs (JDK 25, no AOT cache, a record of that size read and written, medians of 9 alternated rounds on a loaded
 * machine): this codec 1.16x the JVM's empty start, Jackson databind 2.18 3.74x, about 18 times this codec's own
 * cost; Jackson's three jars are 2.3 MB.
 */
public final class Json {
    private Json() {}

    /** Compact JSON for {@code value}. */
    public static String write(Object value) {
        StringBuilder b = new StringBuilder();
        write(b, value);
        return b.toString();
    }

    private static void write(StringBuilder b, Object v) {
        switch (v) {
            case null -> b.append("null");
            case String s -> string(b, s);
            case Boolean bool -> b.append(bool);
            case Integer i -> b.append(i);
            case Long l -> b.append(l);
            case Number n -> b.append(n);
            case Map<?, ?> m -> {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    string(b, String.valueOf(e.getKey()));
                    b.append(':');
                    write(b, e.getValue());
                }
                b.append('}');
            }
            case List<?> l -> {
                b.append('[');
                for (int i = 0; i < l.size(); i++) {
                    if (i > 0) {
                        b.append(',');
                    }
                    write(b, l.get(i));
                }
                b.append(']');
            }
            default -> throw new IllegalArgumentException("not a JSON value: " + v.getClass().getName());
        }
    }

    private static void string(StringBuilder b, String s) {
        Escape.json(b, s);
    }

    /**
     * {@code map} in the bundle's fixed layout: keys sorted at every level, two-space indent, a final newline, so
     * that equal content gives equal bytes. Values: strings, integers and nested maps.
     */
    public static String writeSorted(Map<String, ?> map) {
        StringBuilder b = new StringBuilder();
        sorted(b, map, "");
        return b.append('\n').toString();
    }

    private static void sorted(StringBuilder b, Map<String, ?> map, String indent) {
        if (map.isEmpty()) {
            b.append("{}");
            return;
        }
        b.append("{\n");
        String inner = indent + "  ";
        int i = 0;
        for (Map.Entry<String, ?> e : new TreeMap<>(map).entrySet()) {
            b.append(inner);
            string(b, e.getKey());
            b.append(": ");
            switch (e.getValue()) {
                case String s -> string(b, s);
                case Integer n -> b.append(n);
                case Long n -> b.append(n);
                case Map<?, ?> m -> {
                    @SuppressWarnings("unchecked")
                    Map<String, ?> sub = (Map<String, ?>) m;
                    sorted(b, sub, inner);
                }
                default -> throw new IllegalArgumentException("unsupported JSON value " + e.getValue());
            }
            b.append(++i < map.size() ? ",\n" : "\n");
        }
        b.append(indent).append('}');
    }

    /**
     * The string members of a JSON object (others are passed over).
     *
     * @throws IllegalArgumentException if the text is not a JSON object
     */
    public static Map<String, String> readStrings(String text) {
        Map<String, String> out = new LinkedHashMap<>();
        readObject(text).forEach((k, v) -> {
            if (v instanceof String str) {
                out.put(k, str);
            }
        });
        return out;
    }

    /**
     * Parses one JSON document.
     *
     * @throws IllegalArgumentException if {@code text} is not valid JSON (the message says where)
     */
    public static Object read(String text) {
        Reader r = new Reader(text);
        r.space();
        Object v = r.value();
        r.space();
        if (r.pos != text.length()) {
            throw r.error("unexpected content after the value");
        }
        return v;
    }

    /** Parses a JSON object, failing unless the document is one. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> readObject(String text) {
        if (read(text) instanceof Map<?, ?> m) {
            return (Map<String, Object>) m;
        }
        throw new IllegalArgumentException("expected a JSON object");
    }

    private static final class Reader {
        private final String s;
        private int pos;

        Reader(String s) {
            this.s = s;
        }

        Object value() {
            if (pos >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(pos);
            return switch (c) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> number();
            };
        }

        Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            pos++;
            space();
            if (peek() == '}') {
                pos++;
                return m;
            }
            while (true) {
                space();
                if (peek() != '"') {
                    throw error("expected a string key");
                }
                String k = string();
                space();
                expect(':');
                space();
                if (m.containsKey(k)) {
                    throw error("duplicate key \"" + k + "\"");
                }
                m.put(k, value());
                space();
                char c = next();
                if (c == '}') {
                    return m;
                }
                if (c != ',') {
                    throw error("expected , or }");
                }
            }
        }

        List<Object> array() {
            List<Object> l = new ArrayList<>();
            pos++;
            space();
            if (peek() == ']') {
                pos++;
                return l;
            }
            while (true) {
                space();
                l.add(value());
                space();
                char c = next();
                if (c == ']') {
                    return l;
                }
                if (c != ',') {
                    throw error("expected , or ]");
                }
            }
        }

        String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = next();
                if (c == '"') {
                    return b.toString();
                }
                if (c < 0x20) {
                    throw error("control character in a string");
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = next();
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (pos + 4 > s.length()) {
                            throw error("short \\u escape");
                        }
                        try {
                            b.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
                        } catch (NumberFormatException x) {
                            throw error("bad \\u escape");
                        }
                        pos += 4;
                    }
                    default -> throw error("bad escape \\" + e);
                }
            }
        }

        Object number() {
            int start = pos;
            if (peek() == '-') {
                pos++;
            }
            boolean fraction = false;
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c >= '0' && c <= '9') {
                    pos++;
                } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                    fraction = true;
                    pos++;
                } else {
                    break;
                }
            }
            String t = s.substring(start, pos);
            if (t.isEmpty() || t.equals("-")) {
                throw error("unexpected character '" + (start < s.length() ? s.charAt(start) : ' ') + "'");
            }
            try {
                return fraction ? (Object) Double.parseDouble(t) : (Object) Long.parseLong(t);
            } catch (NumberFormatException e) {
                throw error("bad number " + t);
            }
        }

        Object literal(String word, Object v) {
            if (!s.startsWith(word, pos)) {
                throw error("unexpected character '" + s.charAt(pos) + "'");
            }
            pos += word.length();
            return v;
        }

        void space() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        char peek() {
            return pos < s.length() ? s.charAt(pos) : '\0';
        }

        char next() {
            if (pos >= s.length()) {
                throw error("unexpected end");
            }
            return s.charAt(pos++);
        }

        void expect(char c) {
            if (next() != c) {
                throw error("expected '" + c + "'");
            }
        }

        IllegalArgumentException error(String what) {
            return new IllegalArgumentException("JSON: " + what + " at offset " + pos);
        }
    }
}
