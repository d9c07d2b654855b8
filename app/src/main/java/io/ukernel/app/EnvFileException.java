package io.ukernel.app;

/**
 * An environment setting that cannot be used: a bad line of {@code env/ukernel.env} or a bad {@code -e} option.
 * The message starts with where it is ({@code env/ukernel.env:3:} or {@code -e "1X=y":}).
 */
public final class EnvFileException extends Exception {
    private final String source;
    private final int line;

    /**
     * @param source the file (as the user should see it) or the option text
     * @param line   1-based line in the file, or 0 for an option
     * @param detail what is wrong and how to write it instead
     */
    public EnvFileException(String source, int line, String detail) {
        super(source + (line > 0 ? ":" + line : "") + ": " + detail);
        this.source = source;
        this.line = line;
    }

    /** The file or option concerned. */
    public String source() {
        return source;
    }

    /** The 1-based line, or 0 for an option. */
    public int line() {
        return line;
    }
}
