package io.ukernel.app.toml;

import io.ukernel.app.toml.TomlTable.Entry;
import io.ukernel.app.toml.TomlTable.Kind;
import java.util.ArrayList;
import java.util.List;

/**
 * Recursive-descent reader over the whole text (not line by line: arrays span lines). Tracks the current line
 * so that every key and value records where it was written; the first error stops the parse.
 */
final class TomlParser {
    /** Deepest nesting of arrays and inline tables; deeper input is refused rather than overflowing the stack. */
    private static final int MAX_DEPTH = 64;

    private final TomlCursor cur;
    private final TomlStrings strings;
    private final TomlTable root = new TomlTable(1, Kind.HEADER);
    private int depth;

    TomlParser(String text) {
        this.cur = new TomlCursor(text);
        this.strings = new TomlStrings(cur);
    }

    /** A key segment and the line it is on. */
    private record Key(String name, int atLine) {}

    TomlTable parse() throws TomlException {
        TomlTable current = root;
        String prefix = "";
        while (true) {
            cur.skipBlank();
            if (cur.eof()) {
                return root;
            }
            cur.keyPath = "";
            if (cur.peek() == '[') {
                int headerLine = cur.line;
                boolean array = cur.pos + 1 < cur.s.length() && cur.s.charAt(cur.pos + 1) == '[';
                cur.pos += array ? 2 : 1;
                cur.skipWs();
                List<Key> keys = key();
                cur.skipWs();
                String close = array ? "]]" : "]";
                if (!cur.s.startsWith(close, cur.pos)) {
                    throw cur.error("expected \"" + close + "\" to close the table header");
                }
                cur.pos += close.length();
                prefix = join(keys);
                current = array ? arrayTable(keys, headerLine) : table(keys, headerLine);
            } else {
                keyValue(current, prefix);
            }
            cur.endOfLine();
        }
    }

    // ---- headers --------------------------------------------------------------------------------------------

    private TomlTable table(List<Key> keys, int headerLine) throws TomlException {
        TomlTable parent = headerParent(keys);
        Key last = keys.getLast();
        Entry e = parent.entries().get(last.name());
        if (e == null) {
            TomlTable t = new TomlTable(headerLine, Kind.HEADER);
            parent.put(new Entry(last.name(), headerLine, t));
            return t;
        }
        String name = "[" + join(keys) + "]";
        if (e.value() instanceof TomlTable t) {
            switch (t.kind()) {
                case IMPLICIT -> {
                    t.define(headerLine);
                    return t;
                }
                case HEADER -> throw cur.error(headerLine, "table " + name + " is defined twice (first on line " + e.line() + ")");
                case DOTTED -> throw cur.error(headerLine, "table " + name + " was already defined by dotted keys on line " + e.line());
                case INLINE -> throw cur.error(headerLine, "table " + name + " was written inline on line " + e.line() + " and cannot be reopened");
            }
        }
        if (e.value() instanceof TomlArray a && a.ofTables()) {
            throw cur.error(headerLine, name + " is an array of tables (line " + e.line() + "); write [" + name + "]");
        }
        throw cur.error(headerLine, "key \"" + join(keys) + "\" is already " + e.value().typeName() + " (line " + e.line() + ")");
    }

    private TomlTable arrayTable(List<Key> keys, int headerLine) throws TomlException {
        TomlTable parent = headerParent(keys);
        Key last = keys.getLast();
        Entry e = parent.entries().get(last.name());
        TomlTable t = new TomlTable(headerLine, Kind.HEADER);
        if (e == null) {
            TomlArray a = new TomlArray(headerLine, true);
            a.add(t);
            parent.put(new Entry(last.name(), headerLine, a));
            return t;
        }
        if (e.value() instanceof TomlArray a && a.ofTables()) {
            a.add(t);
            return t;
        }
        throw cur.error(headerLine, "[[" + join(keys) + "]]: key is already " + e.value().typeName() + " (line " + e.line() + ")");
    }

    /** Walks every segment of a header but the last, creating implicit tables, entering the last array element. */
    private TomlTable headerParent(List<Key> keys) throws TomlException {
        TomlTable t = root;
        for (int i = 0; i < keys.size() - 1; i++) {
            Key k = keys.get(i);
            Entry e = t.entries().get(k.name());
            if (e == null) {
                TomlTable child = new TomlTable(k.atLine(), Kind.IMPLICIT);
                t.put(new Entry(k.name(), k.atLine(), child));
                t = child;
            } else if (e.value() instanceof TomlTable child && child.kind() != Kind.INLINE) {
                t = child;
            } else if (e.value() instanceof TomlArray a && a.ofTables()) {
                t = (TomlTable) a.items().getLast();
            } else {
                throw cur.error(k.atLine(), "key \"" + join(keys.subList(0, i + 1)) + "\" is already "
                        + e.value().typeName() + " (line " + e.line() + ") and cannot hold a table");
            }
        }
        return t;
    }

    // ---- key = value ----------------------------------------------------------------------------------------

    private void keyValue(TomlTable table, String prefix) throws TomlException {
        List<Key> keys = key();
        cur.keyPath = prefix.isEmpty() ? join(keys) : prefix + "." + join(keys);
        cur.skipWs();
        if (cur.eof() || cur.peek() != '=') {
            throw cur.error("expected \"=\" after the key");
        }
        cur.pos++;
        cur.skipWs();
        TomlValue value = value();
        TomlTable t = table;
        for (int i = 0; i < keys.size() - 1; i++) {
            Key k = keys.get(i);
            Entry e = t.entries().get(k.name());
            if (e == null) {
                TomlTable child = new TomlTable(k.atLine(), Kind.DOTTED);
                t.put(new Entry(k.name(), k.atLine(), child));
                t = child;
            } else if (e.value() instanceof TomlTable child
                    && (child.kind() == Kind.DOTTED || child.kind() == Kind.IMPLICIT)) {
                t = child;
            } else {
                String what = e.value() instanceof TomlTable ? "a table defined on line " + e.line()
                        + " and cannot be extended here" : e.value().typeName() + " (line " + e.line() + ")";
                throw cur.error(k.atLine(), "key \"" + join(keys.subList(0, i + 1)) + "\" is already " + what);
            }
        }
        Key last = keys.getLast();
        Entry old = t.entries().get(last.name());
        if (old != null) {
            throw cur.error(last.atLine(), "duplicate key (first defined on line " + old.line() + ")");
        }
        t.put(new Entry(last.name(), last.atLine(), value));
    }

    /** A possibly dotted key: {@code a}, {@code "a b"}, {@code a.'b'.c}. */
    private List<Key> key() throws TomlException {
        List<Key> keys = new ArrayList<>();
        while (true) {
            keys.add(new Key(simpleKey(), cur.line));
            cur.skipWs();
            if (cur.eof() || cur.peek() != '.') {
                return keys;
            }
            cur.pos++;
            cur.skipWs();
        }
    }

    private String simpleKey() throws TomlException {
        if (cur.eof()) {
            throw cur.error("expected a key");
        }
        char c = cur.peek();
        if (c == '"' || c == '\'') {
            if (cur.s.startsWith(c == '"' ? "\"\"\"" : "'''", cur.pos)) {
                throw cur.error("multi-line strings cannot be keys");
            }
            return c == '"' ? strings.basicString() : strings.literalString();
        }
        int start = cur.pos;
        while (!cur.eof() && isBareKeyChar(cur.peek())) {
            cur.pos++;
        }
        if (cur.pos == start) {
            throw cur.error("expected a key (letters, digits, '_' and '-', or a quoted string), found " + cur.describeHere());
        }
        return cur.s.substring(start, cur.pos);
    }

    private static boolean isBareKeyChar(char c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-';
    }

    // ---- values ---------------------------------------------------------------------------------------------

    private TomlValue value() throws TomlException {
        int at = cur.line;
        if (cur.eof() || cur.peek() == '\n' || cur.peek() == '\r' || cur.peek() == '#') {
            throw cur.error("expected a value after \"=\"");
        }
        char c = cur.peek();
        return switch (c) {
            case '"' -> new TomlValue.Str(cur.s.startsWith("\"\"\"", cur.pos) ? strings.multiLineBasic() : strings.basicString(), at);
            case '\'' -> new TomlValue.Str(cur.s.startsWith("'''", cur.pos) ? strings.multiLineLiteral() : strings.literalString(), at);
            case '[' -> array();
            case '{' -> inlineTable();
            default -> scalar();
        };
    }

    private TomlValue scalar() throws TomlException {
        int at = cur.line;
        int start = cur.pos;
        while (!cur.eof() && isScalarChar(cur.peek())) {
            cur.pos++;
        }
        String tok = cur.s.substring(start, cur.pos);
        if (tok.isEmpty()) {
            throw cur.error("expected a value, found " + cur.describeHere());
        }
        if (tok.equals("true") || tok.equals("false")) {
            return new TomlValue.Bool(tok.equals("true"), at);
        }
        Long n = TomlNumbers.integer(tok);
        if (n != null) {
            return new TomlValue.Int(n, at);
        }
        if (TomlNumbers.looksLikeInteger(tok)) {
            throw cur.error(at, "integer " + tok + " is out of range (64-bit)");
        }
        if (TomlNumbers.looksLikeFloat(tok)) {
            throw cur.error(at, "floating-point numbers are not supported here (found " + tok + "): a version or other "
                    + "text needs quotes (\"" + tok + "\"), a count an integer");
        }
        if (TomlNumbers.looksLikeDate(tok)) {
            throw cur.error(at, "dates and times are not supported here (found " + tok + "); use a string");
        }
        if (tok.chars().allMatch(ch -> isBareKeyChar((char) ch) || ch == '.')) {
            throw cur.error(at, "invalid value " + tok + " (strings need quotes: \"" + tok + "\")");
        }
        throw cur.error(at, "invalid value " + tok);
    }

    private static boolean isScalarChar(char c) {
        return isBareKeyChar(c) || c == '+' || c == '.' || c == ':';
    }

    private TomlArray array() throws TomlException {
        TomlArray a = new TomlArray(cur.line, false);
        enter();
        cur.pos++; // '['
        while (true) {
            cur.skipBlank();
            if (cur.eof()) {
                throw cur.error(a.line(), "unterminated array (missing \"]\")");
            }
            if (cur.peek() == ']') {
                cur.pos++;
                depth--;
                return a;
            }
            a.add(value());
            cur.skipBlank();
            if (cur.eof()) {
                throw cur.error(a.line(), "unterminated array (missing \"]\")");
            }
            if (cur.peek() == ',') {
                cur.pos++;
            } else if (cur.peek() != ']') {
                throw cur.error("expected \",\" or \"]\" in the array, found " + cur.describeHere());
            }
        }
    }

    private TomlTable inlineTable() throws TomlException {
        TomlTable t = new TomlTable(cur.line, Kind.INLINE);
        enter();
        cur.pos++; // '{'
        String outer = cur.keyPath;
        cur.skipWs();
        if (!cur.eof() && cur.peek() == '}') {
            cur.pos++;
            depth--;
            return t;
        }
        while (true) {
            cur.skipWs();
            if (cur.eof() || cur.peek() == '\n' || cur.peek() == '\r') {
                throw cur.error("unterminated inline table (inline tables end with \"}\" on the same line)");
            }
            keyValue(t, outer);
            cur.skipWs();
            if (cur.eof() || cur.peek() == '\n' || cur.peek() == '\r') {
                throw cur.error("unterminated inline table (inline tables end with \"}\" on the same line)");
            }
            char c = cur.peek();
            cur.pos++;
            if (c == '}') {
                depth--;
                cur.keyPath = outer;
                return t;
            }
            if (c != ',') {
                cur.pos--;
                throw cur.error("expected \",\" or \"}\" in the inline table, found " + cur.describeHere());
            }
            cur.skipWs();
            if (!cur.eof() && cur.peek() == '}') {
                throw cur.error("trailing comma is not allowed in an inline table");
            }
        }
    }

    private void enter() throws TomlException {
        if (++depth > MAX_DEPTH) {
            throw cur.error("arrays and inline tables nested deeper than " + MAX_DEPTH);
        }
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private static String join(List<Key> keys) {
        StringBuilder b = new StringBuilder();
        for (Key k : keys) {
            if (!b.isEmpty()) {
                b.append('.');
            }
            boolean bare = !k.name().isEmpty() && k.name().chars().allMatch(c -> isBareKeyChar((char) c));
            b.append(bare ? k.name() : '"' + k.name().replace("\\", "\\\\").replace("\"", "\\\"") + '"');
        }
        return b.toString();
    }


}
