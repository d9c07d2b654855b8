package io.ukernel.app;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The worker's environment settings: {@code env/ukernel.env} and {@code -e KEY=VALUE} options.
 *
 * <p>Format, one setting per line: {@code KEY=VALUE}, optionally preceded by {@code export }. Keys are
 * {@code [A-Za-z_][A-Za-z0-9_]*}. Blank lines and lines starting with {@code #} are ignored. A value may be
 * wrapped in single quotes (taken literally) or double quotes (where {@code \"}, {@code \\}, {@code \n} and
 * {@code \t} are escapes); an unquoted value is trimmed and ends at {@code " #"} (a comment). A later setting of
 * the same key replaces the earlier one.
 */
public final class EnvFile {
    /** Where an app keeps its settings, relative to the app directory. */
    public static final String PATH = "env/ukernel.env";

    private static final Pattern KEY = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private EnvFile() {}

    /**
     * Reads a settings file.
     *
     * @return the settings in file order; empty if the file does not exist
     * @throws EnvFileException naming {@code file:line} for a malformed line
     * @throws IOException      if the file exists but cannot be read
     */
    public static Map<String, String> parse(Path file) throws EnvFileException, IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return Map.of();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new EnvFileException(file.toString(), 0, "the file is not valid UTF-8");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (i == 0 && line.startsWith("\uFEFF")) {
                line = line.substring(1).strip();
            }
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            try {
                Map.Entry<String, String> kv = assignment(line);
                out.put(kv.getKey(), kv.getValue());
            } catch (IllegalArgumentException e) {
                throw new EnvFileException(file.toString(), i + 1, e.getMessage());
            }
        }
        return Collections.unmodifiableMap(out);
    }

    /**
     * Parses {@code -e KEY=VALUE} options with the rules of the file (quotes allowed; no {@code export}). A bare
     * {@code -e KEY} takes the value {@code KEY} has in {@code hostEnv} (the caller's environment), as docker does.
     *
     * @return the settings in order; a later key replaces an earlier one
     * @throws EnvFileException naming the option for a malformed one, or a bare KEY that {@code hostEnv} lacks
     */
    public static Map<String, String> parseOptions(List<String> options, Map<String, String> hostEnv)
            throws EnvFileException {
        Map<String, String> out = new LinkedHashMap<>();
        for (String option : options) {
            out.putAll(Map.ofEntries(parseOption(option, hostEnv)));
        }
        return Collections.unmodifiableMap(out);
    }

    /**
     * Parses one {@code KEY=VALUE} or bare {@code KEY} option.
     *
     * @throws EnvFileException naming the option if it is malformed
     */
    public static Map.Entry<String, String> parseOption(String option, Map<String, String> hostEnv)
            throws EnvFileException {
        String source = "-e \"" + option + "\"";
        String stripped = option.strip();
        if (stripped.startsWith("export ")) {
            throw new EnvFileException(source, 0, "write KEY=VALUE without \"export\"");
        }
        if (stripped.indexOf('=') < 0 && KEY.matcher(stripped).matches()) {
            String value = hostEnv.get(stripped);
            if (value == null) {
                throw new EnvFileException(source, 0, stripped + " is not set in this environment: export it first, "
                        + "or write -e " + stripped + "=VALUE");
            }
            return Map.entry(stripped, value);
        }
        try {
            return assignment(stripped);
        } catch (IllegalArgumentException e) {
            throw new EnvFileException(source, 0, e.getMessage());
        }
    }

    /**
     * Reads a settings file the user named explicitly: unlike {@link #parse}, a missing file is an error.
     *
     * @throws EnvFileException naming the file if it does not exist or a line is malformed
     */
    public static Map<String, String> parseRequired(Path file) throws EnvFileException, IOException {
        if (!Files.isRegularFile(file)) {
            throw new EnvFileException(file.toString(), 0, "no such file");
        }
        return parse(file);
    }

    private static Map.Entry<String, String> assignment(String line) {
        if (line.startsWith("export ") || line.startsWith("export\t")) {
            line = line.substring(7).strip();
        }
        int eq = line.indexOf('=');
        if (eq < 0) {
            throw new IllegalArgumentException("expected KEY=VALUE, found \"" + abbreviate(line) + "\"");
        }
        String key = line.substring(0, eq).strip();
        if (!KEY.matcher(key).matches()) {
            throw new IllegalArgumentException("invalid name \"" + abbreviate(key)
                    + "\": names are letters, digits and '_', not starting with a digit");
        }
        return Map.entry(key, value(line.substring(eq + 1).strip()));
    }

    private static String value(String raw) {
        if (raw.isEmpty()) {
            return raw;
        }
        char q = raw.charAt(0);
        if (q != '"' && q != '\'') {
            int comment = commentStart(raw);
            return (comment < 0 ? raw : raw.substring(0, comment)).strip();
        }
        StringBuilder b = new StringBuilder();
        int i = 1;
        while (true) {
            if (i >= raw.length()) {
                throw new IllegalArgumentException("unterminated " + (q == '"' ? "double" : "single")
                        + "-quoted value (missing closing " + q + ")");
            }
            char c = raw.charAt(i++);
            if (c == q) {
                break;
            }
            if (q == '"' && c == '\\' && i < raw.length()) {
                char e = raw.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case '"', '\\', '$' -> b.append(e);
                    default -> b.append('\\').append(e);
                }
            } else {
                b.append(c);
            }
        }
        String rest = raw.substring(i).strip();
        if (!rest.isEmpty() && !rest.startsWith("#")) {
            throw new IllegalArgumentException("unexpected text after the closing quote: \"" + abbreviate(rest) + "\"");
        }
        return b.toString();
    }

    /** Index of a {@code #} preceded by whitespace, which starts a comment in an unquoted value. */
    private static int commentStart(String v) {
        for (int i = 1; i < v.length(); i++) {
            if (v.charAt(i) == '#' && Character.isWhitespace(v.charAt(i - 1))) {
                return i;
            }
        }
        return -1;
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
