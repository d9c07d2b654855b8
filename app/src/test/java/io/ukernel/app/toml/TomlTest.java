package io.ukernel.app.toml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class TomlTest {

    private static TomlValue at(TomlTable t, String... path) {
        TomlValue v = t;
        for (String k : path) {
            v = ((TomlTable) v).get(k).orElseThrow(() -> new AssertionError("missing " + k)).value();
        }
        return v;
    }

    private static String str(TomlTable t, String... path) {
        return ((TomlValue.Str) at(t, path)).value();
    }

    private static TomlException error(String text) {
        return assertThrows(TomlException.class, () -> Toml.parse(text));
    }

    @Test
    void parse_keysStringsIntegersBooleansAndLines() throws TomlException {
        TomlTable t = Toml.parse("""
                # comment
                a = "x" # trailing comment
                "quoted key" = 'lit\\eral'
                b.c.d = 1_000
                neg = -17
                hex = 0xff
                yes = true

                [t]
                k = false
                """);
        assertEquals("x", str(t, "a"));
        assertEquals("lit\\eral", str(t, "quoted key"));
        assertEquals(1000, ((TomlValue.Int) at(t, "b", "c", "d")).value());
        assertEquals(-17, ((TomlValue.Int) at(t, "neg")).value());
        assertEquals(255, ((TomlValue.Int) at(t, "hex")).value());
        assertTrue(((TomlValue.Bool) at(t, "yes")).value());
        assertFalse(((TomlValue.Bool) at(t, "t", "k")).value());
        assertEquals(2, t.get("a").orElseThrow().line());
        assertEquals(4, t.get("b").orElseThrow().line());
        assertEquals(9, t.get("t").orElseThrow().line());
        assertEquals(10, ((TomlTable) at(t, "t")).get("k").orElseThrow().line());
        assertEquals(List.of("a", "quoted key", "b", "neg", "hex", "yes", "t"), List.copyOf(t.entries().keySet()));
    }

    @Test
    void parse_escapes() throws TomlException {
        TomlTable t = Toml.parse("s = \"a\\tb\\n\\\"q\\\" \\u00e9 \\U0001F600 \\\\\"");
        assertEquals("a\tb\n\"q\" é \uD83D\uDE00 \\", str(t, "s"));
    }

    @Test
    void parse_multiLineStrings() throws TomlException {
        TomlTable t = Toml.parse("a = \"\"\"\nline1\nline2 \\\n   joined\"\"\"\nb = '''\nraw \\n'''\nc = 1\n");
        assertEquals("line1\nline2 joined", str(t, "a"));
        assertEquals("raw \\n", str(t, "b"));
        assertEquals(7, t.get("c").orElseThrow().line());
    }

    @Test
    void parse_multiLineArrayWithCommentsAndTrailingComma() throws TomlException {
        TomlTable t = Toml.parse("""
                a = [
                  "x",  # first
                  "y",
                ]
                empty = []
                nested = [[1, 2], ["a"]]
                after = 1
                """);
        TomlArray a = (TomlArray) at(t, "a");
        assertEquals(2, a.size());
        assertEquals(2, a.items().get(0).line());
        assertEquals(3, a.items().get(1).line());
        assertEquals(0, ((TomlArray) at(t, "empty")).size());
        assertEquals(2, ((TomlArray) at(t, "nested")).size());
        assertEquals(7, t.get("after").orElseThrow().line());
    }

    @Test
    void parse_inlineTables() throws TomlException {
        TomlTable t = Toml.parse("d = { path = \"data\", mode = \"ro\", x.y = 2 }\ne = {}");
        assertEquals("data", str(t, "d", "path"));
        assertEquals(2, ((TomlValue.Int) at(t, "d", "x", "y")).value());
        assertEquals(0, ((TomlTable) at(t, "e")).entries().size());
    }

    @Test
    void parse_arrayOfTables() throws TomlException {
        TomlTable t = Toml.parse("[[task]]\nname = \"a\"\n[[task]]\nname = \"b\"\n[task.sub]\nk = 1\n");
        TomlArray a = (TomlArray) at(t, "task");
        assertTrue(a.ofTables());
        assertEquals(2, a.size());
        assertEquals(3, a.items().get(1).line());
        assertEquals(1, ((TomlValue.Int) at((TomlTable) a.items().get(1), "sub", "k")).value());
    }

    @Test
    void parse_tableDefinedAfterItsChild() throws TomlException {
        TomlTable t = Toml.parse("[a.b]\nx = 1\n[a]\ny = 2\n");
        assertEquals(2, ((TomlValue.Int) at(t, "a", "y")).value());
    }

    @Test
    void parse_crlfLineEnds() throws TomlException {
        TomlTable t = Toml.parse("a = 1\r\nb = 2\r\n");
        assertEquals(2, t.get("b").orElseThrow().line());
    }

    @Test
    void error_duplicateKeyNamesBothLines() {
        TomlException e = error("a = 1\n\na = 2\n");
        assertEquals(3, e.line());
        assertEquals("a", e.key());
        assertTrue(e.detail().contains("line 1"), e.detail());
    }

    @Test
    void error_duplicateTable() {
        TomlException e = error("[a]\nx = 1\n[a]\n");
        assertEquals(3, e.line());
        assertTrue(e.detail().contains("defined twice"), e.detail());
    }

    @Test
    void error_unterminatedStringNamesLineAndKey() {
        TomlException e = error("a = 1\nname = \"hello\nb = 2\n");
        assertEquals(2, e.line());
        assertEquals("name", e.key());
        assertTrue(e.detail().contains("unterminated string"), e.detail());
    }

    @Test
    void error_unterminatedArrayNamesItsStart() {
        TomlException e = error("x = 0\na = [\n  1,\n  2,\n");
        assertEquals(2, e.line());
        assertEquals("a", e.key());
    }

    @Test
    void error_floatsAndDatesAreNotSupported() {
        assertTrue(error("a = 1.5").detail().contains("floating-point"));
        // python = 3.11 is a version written without quotes: the message says to quote it, not "use an integer"
        String detail = error("python = 3.11").detail();
        assertTrue(detail.contains("a version or other text needs quotes (\"3.11\")"), detail);
        assertTrue(error("a = inf").detail().contains("floating-point"));
        assertTrue(error("a = 1979-05-27").detail().contains("dates"));
    }

    @Test
    void error_bareWordSaysToQuote() {
        TomlException e = error("name = hello");
        assertTrue(e.detail().contains("\"hello\""), e.detail());
    }

    @Test
    void error_badEscapeAndControlCharacter() {
        assertTrue(error("a = \"\\q\"").detail().contains("invalid escape"));
        assertTrue(error("a = \"\u0001\"").detail().contains("control character"));
    }

    @Test
    void error_textAfterValue() {
        assertTrue(error("a = 1 b = 2").detail().contains("end of the line"));
    }

    @Test
    void error_integerOverflow() {
        assertTrue(error("a = 99999999999999999999").detail().contains("out of range"));
    }

    @Test
    void error_inlineTableCannotBeExtended() {
        assertTrue(error("a = {x = 1}\n[a.b]\n").detail().contains("cannot hold a table"));
        assertTrue(error("a = {x = 1}\na.y = 2\n").detail().contains("cannot be extended"));
    }

    @Test
    void error_deepNestingIsRefusedNotAStackOverflow() {
        assertTrue(error("a = " + "[".repeat(10_000)).detail().contains("nested deeper"));
    }

    @Test
    void value_typeNames() throws TomlException {
        TomlTable t = Toml.parse("a = [1]\n[[b]]\n");
        assertInstanceOf(TomlArray.class, at(t, "a"));
        assertEquals("an array", at(t, "a").typeName());
        assertEquals("an array of tables", at(t, "b").typeName());
    }
}
