package io.ukernel.app.toml;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A TOML array: either a value array ({@code [1, 2]}) or an array of tables built by {@code [[name]]} headers
 * ({@link #ofTables()}). Read-only to callers.
 */
public final class TomlArray implements TomlValue {
    private final int line;
    private final boolean ofTables;
    private final List<TomlValue> items = new ArrayList<>();

    TomlArray(int line, boolean ofTables) {
        this.line = line;
        this.ofTables = ofTables;
    }

    void add(TomlValue v) {
        items.add(v);
    }

    /** The elements, in order. */
    public List<TomlValue> items() {
        return Collections.unmodifiableList(items);
    }

    /** The number of elements. */
    public int size() {
        return items.size();
    }

    /** Whether the array was built by {@code [[name]]} headers rather than written as a value. */
    public boolean ofTables() {
        return ofTables;
    }

    @Override
    public int line() {
        return line;
    }

    @Override
    public String typeName() {
        return ofTables ? "an array of tables" : "an array";
    }
}
