package io.ukernel.app.toml;

/**
 * Reads TOML strings at the cursor: basic ({@code "..."}, with escapes), literal ({@code '...'}) and their
 * multi-line forms; control characters other than tab must be escaped.
 */
final class TomlStrings {
    private final TomlCursor cur;

    TomlStrings(TomlCursor cursor) {
        this.cur = cursor;
    }

    String basicString() throws TomlException {
        int startLine = cur.line;
        cur.pos++; // '"'
        StringBuilder b = new StringBuilder();
        while (true) {
            if (cur.eof() || cur.peek() == '\n' || cur.peek() == '\r') {
                throw cur.error(startLine, "unterminated string (missing closing \")");
            }
            char c = cur.s.charAt(cur.pos++);
            if (c == '"') {
                return b.toString();
            }
            if (c == '\\') {
                escape(b);
            } else {
                checkStringChar(c);
                b.append(c);
            }
        }
    }

    String literalString() throws TomlException {
        int startLine = cur.line;
        cur.pos++; // '\''
        int start = cur.pos;
        while (true) {
            if (cur.eof() || cur.peek() == '\n' || cur.peek() == '\r') {
                throw cur.error(startLine, "unterminated string (missing closing ')");
            }
            char c = cur.s.charAt(cur.pos++);
            if (c == '\'') {
                return cur.s.substring(start, cur.pos - 1);
            }
            checkStringChar(c);
        }
    }

    String multiLineBasic() throws TomlException {
        int startLine = cur.line;
        cur.pos += 3;
        cur.skipOneNewline();
        StringBuilder b = new StringBuilder();
        while (true) {
            if (cur.eof()) {
                throw cur.error(startLine, "unterminated string (missing closing \"\"\")");
            }
            if (cur.s.startsWith("\"\"\"", cur.pos)) {
                int extra = closingQuotes('"');
                b.append("\"".repeat(extra));
                cur.pos += 3 + extra;
                return b.toString();
            }
            char c = cur.s.charAt(cur.pos++);
            if (c == '\\') {
                int save = cur.pos;
                cur.skipWs();
                if (!cur.eof() && (cur.peek() == '\n' || cur.peek() == '\r')) {
                    cur.skipBlankNoComments();
                } else {
                    cur.pos = save;
                    escape(b);
                }
            } else if (c == '\n' || c == '\r') {
                cur.pos--;
                cur.skipOneNewline();
                b.append('\n');
            } else {
                checkStringChar(c);
                b.append(c);
            }
        }
    }

    String multiLineLiteral() throws TomlException {
        int startLine = cur.line;
        cur.pos += 3;
        cur.skipOneNewline();
        StringBuilder b = new StringBuilder();
        while (true) {
            if (cur.eof()) {
                throw cur.error(startLine, "unterminated string (missing closing ''')");
            }
            if (cur.s.startsWith("'''", cur.pos)) {
                int extra = closingQuotes('\'');
                b.append("'".repeat(extra));
                cur.pos += 3 + extra;
                return b.toString();
            }
            char c = cur.s.charAt(cur.pos++);
            if (c == '\n' || c == '\r') {
                cur.pos--;
                cur.skipOneNewline();
                b.append('\n');
            } else {
                checkStringChar(c);
                b.append(c);
            }
        }
    }

    /** Quotes of the closing delimiter that belong to the content: up to two before the final three. */
    private int closingQuotes(char q) {
        int n = 0;
        while (n < 2 && cur.pos + 3 + n < cur.s.length() && cur.s.charAt(cur.pos + 3 + n) == q) {
            n++;
        }
        return n;
    }

    private void escape(StringBuilder b) throws TomlException {
        if (cur.eof()) {
            throw cur.error("unterminated escape sequence");
        }
        char e = cur.s.charAt(cur.pos++);
        switch (e) {
            case 'b' -> b.append('\b');
            case 't' -> b.append('\t');
            case 'n' -> b.append('\n');
            case 'f' -> b.append('\f');
            case 'r' -> b.append('\r');
            case 'e' -> b.append('\u001b');
            case '"' -> b.append('"');
            case '\\' -> b.append('\\');
            case 'u' -> b.appendCodePoint(hexEscape(4));
            case 'U' -> b.appendCodePoint(hexEscape(8));
            default -> throw cur.error("invalid escape sequence \\" + TomlCursor.printable(e)
                    + " (valid: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX)");
        }
    }

    private int hexEscape(int digits) throws TomlException {
        if (cur.pos + digits > cur.s.length()) {
            throw cur.error("\\u and \\U escapes need " + digits + " hex digits");
        }
        String hex = cur.s.substring(cur.pos, cur.pos + digits);
        if (!hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            throw cur.error("\\u and \\U escapes need " + digits + " hex digits, found \"" + hex + "\"");
        }
        long cp = Long.parseLong(hex, 16);
        if (cp > Character.MAX_CODE_POINT || cp >= 0xD800 && cp <= 0xDFFF) {
            throw cur.error("escape \\" + (digits == 4 ? "u" : "U") + hex + " is not a Unicode scalar value");
        }
        cur.pos += digits;
        return (int) cp;
    }

    private void checkStringChar(char c) throws TomlException {
        if (c < 0x20 && c != '\t' || c == 0x7f) {
            throw cur.error("control character U+%04X is not allowed in a string (use an escape)".formatted((int) c));
        }
    }
}
