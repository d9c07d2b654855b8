package io.ukernel.app.toml;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A TOML table: keys in the order written, each with the line of its key. Read-only to callers.
 */
public final class TomlTable implements TomlValue {

    /** One key of a table: its name, the line where the key is written, and its value. */
    public record Entry(String key, int line, TomlValue value) {}

    /** How a table came to exist; decides whether it may be reopened or extended (TOML's rules). */
    enum Kind {
        /** Created as a parent by a header such as {@code [a.b]} (for {@code a}); may be defined later. */
        IMPLICIT,
        /** Defined by its own {@code [header]} or {@code [[header]]}. */
        HEADER,
        /** Created by a dotted key such as {@code a.b = 1} (for {@code a}). */
        DOTTED,
        /** Written inline, {@code { ... }}: complete, never extended. */
        INLINE
    }

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private int line;
    private Kind kind;

    TomlTable(int line, Kind kind) {
        this.line = line;
        this.kind = kind;
    }

    Kind kind() {
        return kind;
    }

    void define(int headerLine) {
        this.kind = Kind.HEADER;
        this.line = headerLine;
    }

    void put(Entry e) {
        entries.put(e.key(), e);
    }

    /** Every key, in the order written. */
    public Map<String, Entry> entries() {
        return Collections.unmodifiableMap(entries);
    }

    /** The entry for {@code key}, if present. */
    public Optional<Entry> get(String key) {
        return Optional.ofNullable(entries.get(key));
    }

    /** The line of the table's header, first dotted key or opening brace. */
    @Override
    public int line() {
        return line;
    }

    @Override
    public String typeName() {
        return "a table";
    }
}
