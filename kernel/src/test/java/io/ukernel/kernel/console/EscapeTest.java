package io.ukernel.kernel.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringReader;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class EscapeTest {
    private static final Pattern TEXT_PREFIX = Pattern.compile("\\[ *\\d+\\.\\d{6}] victim#7 OUT   .*");

    @Test
    void text_writesControlsOutVisibly() {
        assertEquals("a\\rkernel#0 WARN", Escape.text("a\rkernel#0 WARN"));
        assertEquals("\\x1b[2K\\x1b[1Gfake\\b\\x7f\\x85\\x9b",
                Escape.text("\u001b[2K\u001b[1Gfake\b\u007f\u0085\u009b"));
        assertEquals("one\\ntwo\\ttab\\x00", Escape.text("one\ntwo\ttab\u0000"));
        assertEquals("\\u2028\\u2029\\u202ereversed\\u2066\\u200f\\u061c",
                Escape.text("\u2028\u2029\u202ereversed\u2066\u200f\u061c"));
    }

    @Test
    void text_leavesOrdinaryTextAlone() {
        String s = "naïve café — 東京 \\ backslash \"quotes\" 🙂";
        assertEquals(s, Escape.text(s), "printable text, non-ASCII included, is unchanged");
    }

    @Test
    void json_escapesEveryUnsafeCharacter() {
        StringBuilder s = new StringBuilder();
        Escape.json(s, "\r\u001b\u007f\u0085\u2028\u202e\"\\");
        assertEquals("\"\\r\\u001b\\u007f\\u0085\\u2028\\u202e\\\"\\\\\"", s.toString());
    }

    /** Whatever a worker writes, the text format renders one line that starts with the worker's prefix. */
    @Property(tries = 2000)
    void text_anyWorkerString_isOneLineWithTheWorkersPrefix(@ForAll("hostile") String s) {
        String out = LineFormat.TEXT.render(new ConsoleLine(1_234_567, 0, "victim", 7, Level.OUT, null, s));
        assertTrue(TEXT_PREFIX.matcher(out).matches(), out);
        for (int i = 0; i < out.length(); i++) {
            assertFalse(Escape.unsafe(out.charAt(i)), "unsafe char " + (int) out.charAt(i) + " in " + out);
        }
    }

    /** In JSON, any worker string is one line holding one object whose msg reads back as the string itself. */
    @Property(tries = 2000)
    void json_anyWorkerString_isOneObject_thatRoundTrips(@ForAll("hostile") String s) {
        String out = LineFormat.JSON.render(new ConsoleLine(1_234_567, 0, "victim", 7, Level.OUT, null, s));
        for (int i = 0; i < out.length(); i++) {
            assertFalse(Escape.unsafe(out.charAt(i)), "unsafe char " + (int) out.charAt(i) + " in " + out);
        }
        assertTrue(out.startsWith("{\"t\":0.001234,\"wall_ms\":0,\"task\":\"victim\",\"tid\":7,"
                + "\"level\":\"OUT\",\"msg\":"), out);
        assertFalse(out.contains("\"event\""), "a worker's line carries no event");
        assertEquals(s, MiniJson.string(new StringReader(out.substring(out.indexOf("\"msg\":") + 6))));
    }

    @Provide
    Arbitrary<String> hostile() {
        String nasty = "\n\r\b\t\u001b\u007f\u0085\u009b\u2028\u2029\u202e\u2066\u200f\"\\[# k";
        return Arbitraries.oneOf(
                Arbitraries.strings().withChars(nasty)
                        .withCharRange('\u0000', '\u00ff').ofMaxLength(60),
                Arbitraries.strings().all().ofMaxLength(40),
                Arbitraries.of("\r[    0.000001] kernel#0 WARN  forged", "x\n[    0.000001] other#2 INFO  forged",
                        "\u001b[2K\u001b[1Gkernel#0 ERROR forged", "\u202ekernel#0"));
    }

    /** Just enough of a JSON string reader to check the escaping round-trips. */
    private static final class MiniJson {
        static String string(StringReader r) {
            try {
                if (r.read() != '"') {
                    throw new AssertionError("not a string");
                }
                StringBuilder b = new StringBuilder();
                for (int c; (c = r.read()) != '"'; ) {
                    if (c < 0) {
                        throw new AssertionError("unterminated");
                    }
                    if (c != '\\') {
                        b.append((char) c);
                        continue;
                    }
                    int e = r.read();
                    switch (e) {
                        case 'n' -> b.append('\n');
                        case 'r' -> b.append('\r');
                        case 't' -> b.append('\t');
                        case 'b' -> b.append('\b');
                        case '"' -> b.append('"');
                        case '\\' -> b.append('\\');
                        case 'u' -> {
                            char[] hex = new char[4];
                            r.read(hex);
                            b.append((char) Integer.parseInt(new String(hex), 16));
                        }
                        default -> throw new AssertionError("bad escape " + (char) e);
                    }
                }
                if (r.read() != '}') {
                    throw new AssertionError("msg is not the last field");
                }
                return b.toString();
            } catch (java.io.IOException e) {
                throw new AssertionError(e);
            }
        }
    }
}
