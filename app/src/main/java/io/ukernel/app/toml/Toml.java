package io.ukernel.app.toml;

/** Entry point of the TOML reader. */
public final class Toml {
    private Toml() {}

    /**
     * Parses a TOML document.
     *
     * @param text the document (already decoded; a leading byte-order mark is ignored)
     * @return the root table
     * @throws TomlException on the first syntax error, naming its line
     */
    public static TomlTable parse(String text) throws TomlException {
        return new TomlParser(text).parse();
    }
}
