package io.ukernel.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EnvFileTest {
    @TempDir
    Path dir;

    private Path write(String text) throws Exception {
        Path f = dir.resolve("ukernel.env");
        Files.writeString(f, text);
        return f;
    }

    @Test
    void parse_formsInOrder() throws Exception {
        Map<String, String> env = EnvFile.parse(write("""
                # comment

                A=1
                export B = two words
                C="quoted # not a comment \\"x\\""
                D='single $HOME \\n'
                E=
                F=value # comment
                _G9=url://a#b
                A=again
                """));
        assertEquals(List.of("A", "B", "C", "D", "E", "F", "_G9"), List.copyOf(env.keySet()));
        assertEquals("again", env.get("A"));
        assertEquals("two words", env.get("B"));
        assertEquals("quoted # not a comment \"x\"", env.get("C"));
        assertEquals("single $HOME \\n", env.get("D"));
        assertEquals("", env.get("E"));
        assertEquals("value", env.get("F"));
        assertEquals("url://a#b", env.get("_G9"));
    }

    @Test
    void parse_missingFileIsEmpty() throws Exception {
        assertEquals(Map.of(), EnvFile.parse(dir.resolve("nope.env")));
    }

    @Test
    void parse_badLineNamesFileAndLine() throws Exception {
        Path f = write("A=1\n\n1BAD=x\n");
        EnvFileException e = assertThrows(EnvFileException.class, () -> EnvFile.parse(f));
        assertEquals(3, e.line());
        assertTrue(e.getMessage().startsWith(f + ":3: invalid name \"1BAD\""), e.getMessage());
    }

    @Test
    void parse_lineWithoutEqualsAndUnterminatedQuote() throws Exception {
        Path f1 = write("JUSTAWORD\n");
        assertTrue(assertThrows(EnvFileException.class, () -> EnvFile.parse(f1)).getMessage()
                .contains(":1: expected KEY=VALUE"));
        Path f2 = write("A=\"open\n");
        assertTrue(assertThrows(EnvFileException.class, () -> EnvFile.parse(f2)).getMessage()
                .contains("unterminated double-quoted value"));
        Path f3 = write("A=\"x\" y\n");
        assertTrue(assertThrows(EnvFileException.class, () -> EnvFile.parse(f3)).getMessage()
                .contains("after the closing quote"));
    }

    @Test
    void parseOptions_sameRules() throws Exception {
        assertEquals(Map.of("A", "1", "B", "x y"), EnvFile.parseOptions(List.of("A=1", "B='x y'"), Map.of()));
        EnvFileException e = assertThrows(EnvFileException.class,
                () -> EnvFile.parseOptions(List.of("A-B=1"), Map.of()));
        assertTrue(e.getMessage().startsWith("-e \"A-B=1\": invalid name"), e.getMessage());
    }

    @Test
    void parseOptions_bareKey_takesTheCallersValue_andSaysWhatToDoWhenItIsUnset() throws Exception {
        assertEquals(Map.of("TOKEN", "s3cret", "A", "1"),
                EnvFile.parseOptions(List.of("TOKEN", "A=1"), Map.of("TOKEN", "s3cret")));
        EnvFileException e = assertThrows(EnvFileException.class,
                () -> EnvFile.parseOption("NOVALUE", Map.of("OTHER", "x")));
        assertTrue(e.getMessage().contains("NOVALUE is not set in this environment")
                && e.getMessage().contains("-e NOVALUE=VALUE"), e.getMessage());
        // not a name: still the KEY=VALUE rule's message
        assertTrue(assertThrows(EnvFileException.class, () -> EnvFile.parseOption("no value", Map.of()))
                .getMessage().contains("expected KEY=VALUE"));
    }

    @Test
    void parseRequired_missingFileIsAnError(@TempDir Path dir) {
        EnvFileException e = assertThrows(EnvFileException.class, () -> EnvFile.parseRequired(dir.resolve("prod.env")));
        assertTrue(e.getMessage().endsWith("prod.env: no such file"), e.getMessage());
    }
}
