package io.ukernel.app.bundle;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The little JSON the bundle needs: objects of strings, integers and nested objects, written with sorted keys
 * and a fixed layout (so equal content gives equal bytes), and flat string objects read back.
 */
final class Json {
    private Json() {}

    /** Writes {@code map} with keys sorted, two-space indent and a final newline. */
    static String write(Map<String, ?> map) {
        StringBuilder b = new StringBuilder();
        object(b, map, "");
        return b.append('\n').toString();
    }

    private static void object(StringBuilder b, Map<String, ?> map, String indent) {
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
                    object(b, sub, inner);
                }
                default -> throw new IllegalArgumentException("unsupported JSON value " + e.getValue());
            }
            b.append(++i < map.size() ? ",\n" : "\n");
        }
        b.append(indent).append('}');
    }

    private static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                case '\r' -> b.append("\\r");
                default -> {
                    if (c < 0x20) {
                        b.append("\\u%04x".formatted((int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    /**
     * Reads a flat object whose values are strings (other values are skipped if they are numbers or literals).
     *
     * @throws IllegalArgumentException if the text is not such an object
     */
    static Map<String, String> readFlat(String text) {
        Reader r = new Reader(text);
        Map<String, String> out = new LinkedHashMap<>();
        r.ws();
        r.expect('{');
        r.ws();
        if (r.peek() == '}') {
            return out;
        }
        while (true) {
            r.ws();
            String key = r.string();
            r.ws();
            r.expect(':');
            r.ws();
            if (r.peek() == '"') {
                out.put(key, r.string());
            } else {
                r.scalar();
            }
            r.ws();
            char c = r.next();
            if (c == '}') {
                return out;
            }
            if (c != ',') {
                throw new IllegalArgumentException("expected , or } at " + r.pos);
            }
        }
    }

    private static final class Reader {
        final String s;
        int pos;

        Reader(String s) {
            this.s = s;
        }

        char peek() {
            if (pos >= s.length()) {
                throw new IllegalArgumentException("unexpected end of JSON");
            }
            return s.charAt(pos);
        }

        char next() {
            char c = peek();
            pos++;
            return c;
        }

        void ws() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        void expect(char c) {
            if (next() != c) {
                throw new IllegalArgumentException("expected " + c + " at " + (pos - 1));
            }
        }

        void scalar() {
            int start = pos;
            while (pos < s.length() && "-+.0123456789eEtruefalsn".indexOf(s.charAt(pos)) >= 0) {
                pos++;
            }
            if (pos == start) {
                throw new IllegalArgumentException("expected a value at " + pos);
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
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = next();
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        if (pos + 4 > s.length()) {
                            throw new IllegalArgumentException("bad \\u escape");
                        }
                        b.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
                        pos += 4;
                    }
                    default -> b.append(e);
                }
            }
        }
    }
}
