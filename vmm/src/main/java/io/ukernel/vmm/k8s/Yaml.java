package io.ukernel.vmm.k8s;

import java.util.List;
import java.util.Map;

/**
 * Block-style YAML for what {@link KubernetesManifests} builds: maps (insertion order kept), lists, strings,
 * numbers and booleans. Strings are double-quoted unless plainly safe, so nothing is read back as another type.
 */
public final class Yaml {
    private Yaml() {}

    /** The documents, separated by {@code ---}. */
    public static String documents(List<? extends Map<String, ?>> docs) {
        StringBuilder b = new StringBuilder();
        for (Map<String, ?> d : docs) {
            b.append("---\n");
            map(b, d, 0);
        }
        return b.toString();
    }

    private static void map(StringBuilder b, Map<?, ?> m, int indent) {
        for (Map.Entry<?, ?> e : m.entrySet()) {
            b.append(" ".repeat(indent)).append(scalar(String.valueOf(e.getKey()))).append(':');
            value(b, e.getValue(), indent);
        }
    }

    private static void value(StringBuilder b, Object v, int indent) {
        if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) {
                b.append(" {}\n");
            } else {
                b.append('\n');
                map(b, m, indent + 2);
            }
        } else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                b.append(" []\n");
            } else {
                b.append('\n');
                list(b, l, indent + 2);
            }
        } else {
            b.append(' ').append(v instanceof String s ? scalar(s) : String.valueOf(v)).append('\n');
        }
    }

    private static void list(StringBuilder b, List<?> l, int indent) {
        for (Object item : l) {
            b.append(" ".repeat(indent)).append("- ");
            if (item instanceof Map<?, ?> m && !m.isEmpty()) {
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        b.append(" ".repeat(indent + 2));
                    }
                    first = false;
                    b.append(scalar(String.valueOf(e.getKey()))).append(':');
                    value(b, e.getValue(), indent + 2);
                }
            } else if (item instanceof List<?> || item instanceof Map<?, ?>) {
                b.append(item instanceof List<?> ? "[]" : "{}").append('\n');
            } else {
                b.append(item instanceof String s ? scalar(s) : String.valueOf(item)).append('\n');
            }
        }
    }

    /** A plain scalar when it is unambiguously a string, else a double-quoted one. */
    static String scalar(String s) {
        if (s.matches("[A-Za-z_/][A-Za-z0-9_./-]*") && !s.matches("(?i)true|false|yes|no|on|off|null|y|n|~")) {
            return s;
        }
        StringBuilder q = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> q.append("\\\"");
                case '\\' -> q.append("\\\\");
                case '\n' -> q.append("\\n");
                case '\t' -> q.append("\\t");
                default -> {
                    if (c < 0x20) {
                        q.append(String.format("\\x%02x", (int) c));
                    } else {
                        q.append(c);
                    }
                }
            }
        }
        return q.append('"').toString();
    }
}
