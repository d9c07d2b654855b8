package io.ukernel.app.toml;

/**
 * The reader's position in the text: offset, current line, the key whose value is being read (for messages),
 * and the whitespace, comment and line-end rules shared by the structural parser and the string lexer.
 */
final class TomlCursor {
    final String s;
    int pos;
    int line = 1;
    /** Dotted path of the key whose value is being read, for messages. */
    String keyPath = "";

    TomlCursor(String text) {
        this.s = text;
        this.pos = text.startsWith("\uFEFF") ? 1 : 0;
    }

    /** Spaces and tabs. */
    void skipWs() {
        while (!eof() && (peek() == ' ' || peek() == '\t')) {
            pos++;
        }
    }

    /** Whitespace, newlines and comments. */
    void skipBlank() throws TomlException {
        while (!eof()) {
            char c = peek();
            if (c == ' ' || c == '\t') {
                pos++;
            } else if (c == '\n' || c == '\r') {
                skipOneNewline();
            } else if (c == '#') {
                comment();
            } else {
                return;
            }
        }
    }

    void skipBlankNoComments() throws TomlException {
        while (!eof()) {
            char c = peek();
            if (c == ' ' || c == '\t') {
                pos++;
            } else if (c == '\n' || c == '\r') {
                skipOneNewline();
            } else {
                return;
            }
        }
    }

    void comment() throws TomlException {
        while (!eof() && peek() != '\n' && peek() != '\r') {
            char c = s.charAt(pos++);
            if (c < 0x20 && c != '\t' || c == 0x7f) {
                throw error("control character U+%04X is not allowed in a comment".formatted((int) c));
            }
        }
    }

    void skipOneNewline() throws TomlException {
        if (eof()) {
            return;
        }
        if (peek() == '\n') {
            pos++;
            line++;
        } else if (peek() == '\r') {
            if (pos + 1 < s.length() && s.charAt(pos + 1) == '\n') {
                pos += 2;
                line++;
            } else {
                throw error("a carriage return must be followed by a line feed");
            }
        }
    }

    void endOfLine() throws TomlException {
        skipWs();
        if (eof()) {
            return;
        }
        char c = peek();
        if (c == '#') {
            comment();
        }
        if (eof()) {
            return;
        }
        if (peek() == '\n' || peek() == '\r') {
            skipOneNewline();
            return;
        }
        throw error("expected the end of the line, found " + describeHere()
                + " (one key = value or [table] per line)");
    }

    boolean eof() {
        return pos >= s.length();
    }

    char peek() {
        return s.charAt(pos);
    }

    String describeHere() {
        if (eof()) {
            return "the end of the file";
        }
        char c = peek();
        if (c == '\n' || c == '\r') {
            return "the end of the line";
        }
        return "\"" + printable(c) + "\"";
    }

    static String printable(char c) {
        return c < 0x20 || c == 0x7f || Character.isSurrogate(c) ? "U+%04X".formatted((int) c) : String.valueOf(c);
    }

    TomlException error(String detail) {
        return new TomlException(line, keyPath, detail);
    }

    TomlException error(int atLine, String detail) {
        return new TomlException(atLine, keyPath, detail);
    }}
