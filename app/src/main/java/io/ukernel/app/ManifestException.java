package io.ukernel.app;

import java.nio.file.Path;

/**
 * A manifest that cannot be used. The message names the file, the line and the key, so the user can go
 * straight to the mistake: {@code ukernel.toml:7: [caps] grant: unknown capability "NETT" (did you mean NET?)}.
 */
public final class ManifestException extends Exception {
    private final Path file;
    private final int line;
    private final String key;

    /**
     * @param file   the manifest
     * @param line   1-based line, or 0 when the problem is not on one line (e.g. a missing key)
     * @param key    the dotted key concerned, e.g. {@code caps.grant}, or empty
     * @param detail what is wrong and, where possible, how to fix it
     */
    public ManifestException(Path file, int line, String key, String detail) {
        super(format(file, line, key, detail));
        this.file = file;
        this.line = line;
        this.key = key;
    }

    private static String format(Path file, int line, String key, String detail) {
        StringBuilder s = new StringBuilder(String.valueOf(file));
        if (line > 0) {
            s.append(':').append(line);
        }
        s.append(": ");
        if (key != null && !key.isEmpty()) {
            s.append(key).append(": ");
        }
        return s.append(detail).toString();
    }

    public Path file() {
        return file;
    }

    public int line() {
        return line;
    }

    public String key() {
        return key;
    }
}
