package io.ukernel.cli;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Prometheus's text exposition format (version 0.0.4): per metric family one {@code # HELP} and one
 * {@code # TYPE} line, then its samples {@code name{label="value",...} number}. Label values escape backslash,
 * double quote and newline; HELP text escapes backslash and newline.
 */
final class Prometheus {
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    /** Per family, in declaration order: its HELP and TYPE lines, then its samples (the format wants them grouped). */
    private final Map<String, StringBuilder> families = new LinkedHashMap<>();

    /** Declares a family (once; a second declaration of the same name is ignored). */
    Prometheus family(String name, String type, String help) {
        families.computeIfAbsent(name, n -> new StringBuilder()
                .append("# HELP ").append(n).append(' ').append(escapeHelp(help)).append('\n')
                .append("# TYPE ").append(n).append(' ').append(type).append('\n'));
        return this;
    }

    /** A sample of a declared family, written in its group whatever the order of calls; {@code labels} alternate name, value. */
    Prometheus sample(String name, double value, String... labels) {
        StringBuilder out = families.get(name);
        if (out == null) {
            throw new IllegalStateException("sample of undeclared metric " + name);
        }
        out.append(name);
        if (labels.length > 0) {
            out.append('{');
            for (int i = 0; i < labels.length; i += 2) {
                if (i > 0) {
                    out.append(',');
                }
                out.append(labels[i]).append("=\"").append(escapeLabel(labels[i + 1])).append('"');
            }
            out.append('}');
        }
        out.append(' ');
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            out.append((long) value);
        } else {
            out.append(value);
        }
        out.append('\n');
        return this;
    }

    static String escapeLabel(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    static String escapeHelp(String v) {
        return v.replace("\\", "\\\\").replace("\n", "\\n");
    }

    @Override
    public String toString() {
        StringBuilder all = new StringBuilder();
        families.values().forEach(all::append);
        return all.toString();
    }
}
