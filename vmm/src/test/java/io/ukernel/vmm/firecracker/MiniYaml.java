package io.ukernel.vmm.firecracker;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the subset of YAML that Firecracker's swagger file uses: block maps and lists by indentation, list items
 * that open maps ({@code - name: body}), plain and quoted scalars (also spanning lines), flow lists
 * ({@code [a, "b"]}) and {@code #} comment lines. Scalars stay strings. Enough to take the API's paths,
 * parameters and definitions from the file at test time, so the fake server checks requests against the
 * published contract rather than against a copy of it.
 */
final class MiniYaml {
    private final List<String> lines = new ArrayList<>();
    private int pos;

    private MiniYaml(String text) {
        for (String l : text.split("\n", -1)) {
            String s = l.replace("\t", "    ");
            if (s.isBlank() || s.strip().startsWith("#")) {
                continue;
            }
            lines.add(stripTrailingComment(s));
        }
    }

    /** Parses a document whose top level is a map. */
    static Map<String, Object> parse(String text) {
        MiniYaml y = new MiniYaml(text);
        Object v = y.block(0);
        if (!(v instanceof Map<?, ?>)) {
            throw new IllegalArgumentException("top level is not a map");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) v;
        return m;
    }

    private static int indent(String s) {
        int i = 0;
        while (i < s.length() && s.charAt(i) == ' ') {
            i++;
        }
        return i;
    }

    private static String stripTrailingComment(String s) {
        boolean quoted = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"') {
                quoted = !quoted;
            } else if (c == '#' && !quoted && i > 0 && s.charAt(i - 1) == ' ') {
                return s.substring(0, i).stripTrailing();
            }
        }
        return s;
    }

    private Object block(int minIndent) {
        if (pos >= lines.size()) {
            return null;
        }
        String first = lines.get(pos);
        int ind = indent(first);
        if (ind < minIndent) {
            return null;
        }
        return first.strip().startsWith("- ") || first.strip().equals("-") ? list(ind) : map(ind);
    }

    private Map<String, Object> map(int ind) {
        Map<String, Object> m = new LinkedHashMap<>();
        while (pos < lines.size()) {
            String line = lines.get(pos);
            int i = indent(line);
            if (i < ind || line.strip().startsWith("- ")) {
                break;
            }
            if (i > ind) {
                throw new IllegalArgumentException("bad indentation at: " + line);
            }
            pos++;
            entry(m, line.strip(), ind);
        }
        return m;
    }

    /** One {@code key: value} at indentation {@code ind}, with whatever nests under it. */
    private void entry(Map<String, Object> m, String text, int ind) {
        int colon = keyEnd(text);
        if (colon < 0) {
            throw new IllegalArgumentException("expected key: value, got: " + text);
        }
        String key = unquote(text.substring(0, colon).strip());
        String rest = text.substring(colon + 1).strip();
        if (!rest.isEmpty()) {
            m.put(key, scalarOrFlow(rest, ind));
            return;
        }
        if (pos < lines.size() && indent(lines.get(pos)) > ind) {
            String next = lines.get(pos).strip();
            if (next.startsWith("- ") || keyEnd(next) > 0) {
                m.put(key, block(ind + 1));
            } else {
                m.put(key, continuation("", ind));
            }
        } else if (pos < lines.size() && indent(lines.get(pos)) == ind && lines.get(pos).strip().startsWith("- ")) {
            m.put(key, list(ind));           // a list at the key's own indentation
        } else {
            m.put(key, "");
        }
    }

    private List<Object> list(int ind) {
        List<Object> l = new ArrayList<>();
        while (pos < lines.size()) {
            String line = lines.get(pos);
            if (indent(line) != ind || !line.strip().startsWith("-")) {
                break;
            }
            pos++;
            String item = line.strip().substring(1).strip();
            int itemIndent = ind + 2;
            if (item.isEmpty()) {
                l.add(block(ind + 1));
            } else if (keyEnd(item) > 0) {
                Map<String, Object> m = new LinkedHashMap<>();
                entry(m, item, itemIndent);
                while (pos < lines.size() && indent(lines.get(pos)) == itemIndent
                        && !lines.get(pos).strip().startsWith("- ")) {
                    entry(m, lines.get(pos++).strip(), itemIndent);
                }
                l.add(m);
            } else {
                l.add(scalarOrFlow(item, ind));
            }
        }
        return l;
    }

    /** Where a key ends ({@code :} followed by space or end), or -1. */
    private static int keyEnd(String s) {
        if (s.startsWith("\"")) {
            int close = s.indexOf('"', 1);
            return close > 0 && close + 1 < s.length() && s.charAt(close + 1) == ':' ? close + 1 : -1;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == ':' && (i + 1 == s.length() || s.charAt(i + 1) == ' ')) {
                String k = s.substring(0, i);
                return k.matches("[A-Za-z0-9_$/{}.\\-]+") ? i : -1;
            }
            if (c == ' ') {
                return -1;
            }
        }
        return -1;
    }

    private Object scalarOrFlow(String rest, int ind) {
        if (rest.startsWith("[") && rest.endsWith("]")) {
            List<Object> l = new ArrayList<>();
            String inner = rest.substring(1, rest.length() - 1).strip();
            if (!inner.isEmpty()) {
                for (String part : inner.split(",")) {
                    l.add(unquote(part.strip()));
                }
            }
            return l;
        }
        if (rest.startsWith("\"") && (rest.length() == 1 || !rest.endsWith("\""))) {
            StringBuilder b = new StringBuilder(rest.substring(1));
            while (pos < lines.size()) {
                String l = lines.get(pos++).strip();
                b.append(' ').append(l);
                if (l.endsWith("\"")) {
                    b.setLength(b.length() - 1);
                    break;
                }
            }
            return b.toString();
        }
        return continuation(unquote(rest), ind);
    }

    /** A plain scalar continued on more-indented lines. */
    private String continuation(String start, int ind) {
        StringBuilder b = new StringBuilder(start);
        while (pos < lines.size() && indent(lines.get(pos)) > ind) {
            String l = lines.get(pos).strip();
            if (!start.isEmpty() || !b.isEmpty()) {
                b.append(' ');
            }
            b.append(l);
            pos++;
        }
        return b.toString().strip();
    }

    private static String unquote(String s) {
        if (s.length() >= 2 && (s.startsWith("\"") && s.endsWith("\"") || s.startsWith("'") && s.endsWith("'"))) {
            return s.substring(1, s.length() - 1);
        }
        return s;
    }
}
