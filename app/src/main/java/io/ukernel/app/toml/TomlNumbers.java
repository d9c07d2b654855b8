package io.ukernel.app.toml;

import java.util.regex.Pattern;

/** Recognises TOML integers, and the number-like tokens (floats, dates) the subset rejects. */
final class TomlNumbers {
    private static final Pattern DEC = Pattern.compile("[+-]?(0|[1-9](_?[0-9])*)");
    private static final Pattern HEX = Pattern.compile("0x[0-9A-Fa-f](_?[0-9A-Fa-f])*");
    private static final Pattern OCT = Pattern.compile("0o[0-7](_?[0-7])*");
    private static final Pattern BIN = Pattern.compile("0b[01](_?[01])*");
    private static final Pattern FLOAT = Pattern.compile("[+-]?(inf|nan|[0-9_]+(\\.[0-9_]+)?([eE][+-]?[0-9_]+)?)");
    private static final Pattern DATE = Pattern.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}.*|[0-9]{2}:[0-9]{2}.*");

    private TomlNumbers() {}

    /** The value of a TOML integer token, or {@code null} if it is not one or does not fit in 64 bits. */
    static Long integer(String tok) {
        try {
            if (DEC.matcher(tok).matches()) {
                return Long.parseLong(tok.replace("_", ""));
            }
            int radix = HEX.matcher(tok).matches() ? 16 : OCT.matcher(tok).matches() ? 8 : BIN.matcher(tok).matches() ? 2 : 0;
            return radix == 0 ? null : Long.parseLong(tok.substring(2).replace("_", ""), radix);
        } catch (NumberFormatException overflow) {
            return null;
        }
    }

    /** Whether the token has integer syntax (it may still be out of range). */
    static boolean looksLikeInteger(String tok) {
        return DEC.matcher(tok).matches() || HEX.matcher(tok).matches() || OCT.matcher(tok).matches()
                || BIN.matcher(tok).matches();
    }

    /** Whether the token looks like a float: a fraction, an exponent, {@code inf} or {@code nan}. */
    static boolean looksLikeFloat(String tok) {
        return FLOAT.matcher(tok).matches() && (tok.contains(".") || tok.contains("inf") || tok.contains("nan")
                || tok.indexOf('e') > 0 || tok.indexOf('E') > 0);
    }

    /** Whether the token looks like a date or time. */
    static boolean looksLikeDate(String tok) {
        return DATE.matcher(tok).matches();
    }
}
