package io.ukernel.kernel.console;

/**
 * What a terminal or a log reader would act on rather than show: C0 controls (line feed, carriage return,
 * backspace, escape...), DEL, C1 controls (including NEL and the 8-bit CSI), Unicode's line and paragraph
 * separators, and the bidirectional embeddings, overrides, isolates and marks (which reorder the text around them
 * on screen). A worker's text goes through {@link #text} before it reaches the console, so it can neither end
 * its line, nor rewrite the prefix the kernel put in front of it, nor make a later line look like the kernel's.
 */
public final class Escape {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private Escape() {}

    /** Whether {@code c} must not reach a console line as itself. */
    public static boolean unsafe(char c) {
        return c < 0x20 || c >= 0x7f && c <= 0x9f
                || c == '\u2028' || c == '\u2029'                   // line / paragraph separator
                || c >= '\u202a' && c <= '\u202e'                   // LRE RLE PDF LRO RLO
                || c >= '\u2066' && c <= '\u2069'                   // LRI RLI FSI PDI
                || c == '\u200e' || c == '\u200f' || c == '\u061c'; // LRM RLM ALM
    }

    /**
     * {@code s} with every {@linkplain #unsafe unsafe} character written out visibly: {@code \n}, {@code \r},
     * {@code \t}, {@code \b} by name, other C0, DEL and C1 as {@code \xHH}, the rest as a backslash, u and four
     * hex digits. A backslash stays as it is: the text format is for people; the JSON format is the unambiguous one.
     */
    public static String text(String s) {
        int i = 0;
        while (i < s.length() && !unsafe(s.charAt(i))) {
            i++;
        }
        if (i == s.length()) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length() + 16).append(s, 0, i);
        for (; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!unsafe(c)) {
                b.append(c);
                continue;
            }
            switch (c) {
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                default -> {
                    if (c <= 0xff) {
                        b.append("\\x").append(HEX[c >> 4]).append(HEX[c & 0xf]);
                    } else {
                        b.append("\\u").append(HEX[c >> 12]).append(HEX[c >> 8 & 0xf]).append(HEX[c >> 4 & 0xf])
                                .append(HEX[c & 0xf]);
                    }
                }
            }
        }
        return b.toString();
    }

    /**
     * Appends {@code text} as a JSON string: quote, backslash and every {@linkplain #unsafe unsafe} character
     * escaped ({@code \n}, {@code \r}, {@code \t}, {@code \b}, else a backslash, u and four hex digits), so
     * that one line holds one object and a JavaScript reader sees no line terminator either.
     */
    public static void json(StringBuilder s, String text) {
        s.append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"' -> s.append("\\\"");
                case '\\' -> s.append("\\\\");
                case '\n' -> s.append("\\n");
                case '\r' -> s.append("\\r");
                case '\t' -> s.append("\\t");
                case '\b' -> s.append("\\b");
                default -> {
                    if (unsafe(c)) {
                        s.append("\\u").append(HEX[c >> 12]).append(HEX[c >> 8 & 0xf]).append(HEX[c >> 4 & 0xf])
                                .append(HEX[c & 0xf]);
                    } else {
                        s.append(c);
                    }
                }
            }
        }
        s.append('"');
    }
}
