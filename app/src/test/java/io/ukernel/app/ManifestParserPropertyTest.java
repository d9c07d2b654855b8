package io.ukernel.app;

import java.nio.file.Path;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Whatever the text, the parser either returns a manifest or throws a {@link ManifestException}: never a bug. */
class ManifestParserPropertyTest {
    private static final Path FILE = Path.of("ukernel.toml");

    @Property(tries = 2000)
    void arbitraryStrings_onlyManifestException(@ForAll String text) {
        parseExpectingOnlyManifestException(text);
    }

    @Property(tries = 3000)
    void tomlLikeStrings_onlyManifestException(@ForAll("tomlish") String text) {
        parseExpectingOnlyManifestException(text);
    }

    @Property(tries = 1000)
    void mutatedValidManifest_onlyManifestException(@ForAll("mutations") String text) {
        parseExpectingOnlyManifestException(text);
    }

    private static void parseExpectingOnlyManifestException(String text) {
        try {
            ManifestParser.parse(FILE, text);
        } catch (ManifestException expected) {
            if (!expected.getMessage().startsWith("ukernel.toml")) {
                throw new AssertionError("message does not name the file: " + expected.getMessage());
            }
        }
    }

    /** Strings built from TOML's own punctuation and the manifest's words, so the parser gets deep. */
    @Provide
    Arbitrary<String> tomlish() {
        Arbitrary<String> tokens = Arbitraries.of("name", "entry", "caps", "grant", "net", "io", "task", "[", "]",
                "[[", "]]", "{", "}", "=", ",", ".", "\"", "'", "\"\"\"", "'''", "\\", "\\u", "#", "\n", "\r\n", " ",
                "\t", "1", "-", "_", "0x", "true", "\"LOG\"", "\"x\"", "\"3.11\"", "\"src/main.py\"", "limits",
                "tasks", "restart", "policy", "\"a:1\"", "e", ":", "+", "inf", "1979-05-27");
        return tokens.list().ofMaxSize(60).map(l -> String.join("", l));
    }

    /** A valid manifest with a few characters replaced, inserted or deleted. */
    @Provide
    Arbitrary<String> mutations() {
        String base = ManifestParserTest.FULL;
        Arbitrary<Integer> at = Arbitraries.integers().between(0, base.length() - 1);
        Arbitrary<Character> ch = Arbitraries.of('"', '\'', '[', ']', '{', '}', '=', ',', '\n', '#', '\\', 'x', '9');
        return at.list().ofMinSize(1).ofMaxSize(4).flatMap(positions -> ch.list().ofSize(positions.size())
                .map(chars -> {
                    StringBuilder b = new StringBuilder(base);
                    for (int i = 0; i < positions.size(); i++) {
                        int p = Math.min(positions.get(i), b.length() - 1);
                        switch (i % 3) {
                            case 0 -> b.setCharAt(p, chars.get(i));
                            case 1 -> b.insert(p, chars.get(i));
                            default -> b.deleteCharAt(p);
                        }
                    }
                    return b.toString();
                }));
    }
}
