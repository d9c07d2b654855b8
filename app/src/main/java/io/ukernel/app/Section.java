package io.ukernel.app;

import io.ukernel.app.toml.TomlArray;
import io.ukernel.app.toml.TomlTable;
import io.ukernel.app.toml.TomlTable.Entry;
import io.ukernel.app.toml.TomlValue;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One table of the manifest being validated: typed access to its keys, each failure a {@link ManifestException}
 * naming the file, the line and the full dotted key. Construction rejects keys the schema does not know.
 */
final class Section {
    /** A string read from an array, with the line it is on. */
    record Item(String value, int line) {}

    private final Path file;
    private final String path;
    private final TomlTable table;

    /**
     * @param path  the dotted path of this table ("" for the root), used to name keys in messages
     * @param known the keys valid here, or {@code null} when any key is valid
     */
    Section(Path file, String path, TomlTable table, List<String> known) throws ManifestException {
        this.file = file;
        this.path = path;
        this.table = table;
        if (known != null) {
            for (Entry e : table.entries().values()) {
                if (!known.contains(e.key())) {
                    throw new ManifestException(file, e.line(), key(e.key()), unknownKey(e.key(), known));
                }
            }
        }
    }

    private String unknownKey(String key, List<String> known) {
        String hint = Suggest.closest(key, known);
        String where = path.isEmpty() ? "at the top level"
                : path.matches(".*\\[\\d+]") ? "in [[" + path.replaceAll("\\[\\d+]$", "") + "]]" : "in [" + path + "]";
        return hint != null
                ? "unknown key (did you mean \"" + hint + "\"?)"
                : "unknown key; valid keys " + where + ": " + String.join(", ", known);
    }

    /** The full dotted name of {@code key} in this table. */
    String key(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    TomlTable table() {
        return table;
    }

    String path() {
        return path;
    }

    /** The line of this table (its header), for errors about the table as a whole. */
    int line() {
        return table.line();
    }

    Optional<Entry> entry(String key) {
        return table.get(key);
    }

    ManifestException error(Entry e, String detail) {
        return new ManifestException(file, e.line(), key(e.key()), detail);
    }

    ManifestException error(String key, int line, String detail) {
        return new ManifestException(file, line, key(key), detail);
    }

    private ManifestException wrongType(Entry e, String expected, TomlValue found) {
        return error(e, "expected " + expected + ", found " + found.typeName() + describe(found));
    }

    private static String describe(TomlValue v) {
        return switch (v) {
            case TomlValue.Str s -> " (\"" + abbreviate(s.value()) + "\")";
            case TomlValue.Int i -> " (" + i.value() + ")";
            case TomlValue.Bool b -> " (" + b.value() + ")";
            default -> "";
        };
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    /** A string value, if the key is present. */
    Optional<Entry> string(String key) throws ManifestException {
        Optional<Entry> e = entry(key);
        if (e.isPresent() && !(e.get().value() instanceof TomlValue.Str)) {
            throw wrongType(e.get(), "a string", e.get().value());
        }
        return e;
    }

    static String text(Entry e) {
        return ((TomlValue.Str) e.value()).value();
    }

    /** An integer in {@code min..max}, or {@code dflt} when absent. */
    long integer(String key, long dflt, long min, long max) throws ManifestException {
        Optional<Entry> o = entry(key);
        if (o.isEmpty()) {
            return dflt;
        }
        Entry e = o.get();
        if (!(e.value() instanceof TomlValue.Int i)) {
            throw wrongType(e, "an integer", e.value());
        }
        if (i.value() < min || i.value() > max) {
            throw error(e, i.value() + " is out of range (" + min + ".." + max + ")");
        }
        return i.value();
    }

    /** An array of strings, each with its line; empty when absent. */
    List<Item> strings(String key) throws ManifestException {
        Optional<Entry> o = entry(key);
        if (o.isEmpty()) {
            return List.of();
        }
        Entry e = o.get();
        if (!(e.value() instanceof TomlArray a) || a.ofTables()) {
            throw wrongType(e, "an array of strings, e.g. [\"a\", \"b\"]", e.value());
        }
        List<Item> items = new ArrayList<>();
        for (TomlValue v : a.items()) {
            if (!(v instanceof TomlValue.Str s)) {
                throw error(e.key(), v.line(), "expected an array of strings, found " + v.typeName() + describe(v)
                        + " in it");
            }
            items.add(new Item(s.value(), s.line()));
        }
        return items;
    }

    /** A sub-table ({@code [path.key]} or inline), validated against {@code known}; empty when absent. */
    Optional<Section> section(String key, List<String> known) throws ManifestException {
        Optional<Entry> o = entry(key);
        if (o.isEmpty()) {
            return Optional.empty();
        }
        Entry e = o.get();
        if (!(e.value() instanceof TomlTable t)) {
            throw wrongType(e, "a table ([" + key(key) + "])", e.value());
        }
        return Optional.of(new Section(file, key(key), t, known));
    }

    /** The tables of an array of tables ({@code [[path.key]]}), each validated against {@code known}. */
    List<Section> sections(String key, List<String> known) throws ManifestException {
        Optional<Entry> o = entry(key);
        if (o.isEmpty()) {
            return List.of();
        }
        Entry e = o.get();
        if (!(e.value() instanceof TomlArray a)) {
            throw wrongType(e, "an array of tables (write [[" + key(key) + "]] headers)", e.value());
        }
        List<Section> out = new ArrayList<>();
        for (TomlValue v : a.items()) {
            if (!(v instanceof TomlTable t)) {
                throw error(key, v.line(), "expected tables (write [[" + key(key) + "]] headers), found "
                        + v.typeName() + describe(v));
            }
            out.add(new Section(file, key(key) + "[" + out.size() + "]", t, known));
        }
        return out;
    }
}
