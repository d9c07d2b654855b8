package io.ukernel.app.toml;

/**
 * A TOML syntax error: where it is ({@link #line()}), which key was being read if known ({@link #key()}), and
 * what is wrong ({@link #detail()}). The caller adds the file name.
 */
public final class TomlException extends Exception {
    private final int line;
    private final String key;
    private final String detail;

    /**
     * @param line   1-based line of the error
     * @param key    dotted key whose value was being read, or empty
     * @param detail what is wrong
     */
    public TomlException(int line, String key, String detail) {
        super("line " + line + ": " + (key.isEmpty() ? "" : key + ": ") + detail);
        this.line = line;
        this.key = key;
        this.detail = detail;
    }

    /** The 1-based line of the error. */
    public int line() {
        return line;
    }

    /** The dotted key whose value was being read, or empty. */
    public String key() {
        return key;
    }

    /** What is wrong, without position. */
    public String detail() {
        return detail;
    }
}
