package io.ukernel.app;

import java.util.regex.Pattern;

/**
 * Shape checks for manifest values. Each returns {@code null} when the value is fine, otherwise a message that
 * says what is wrong and what would be right.
 */
final class Checks {
    static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
    private static final Pattern PYTHON = Pattern.compile("3\\.(0|[1-9][0-9]{0,2})");
    private static final Pattern IDENT = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern PREOPEN = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}");
    private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?");
    private static final Pattern IPV4 = Pattern.compile("[0-9]+(\\.[0-9]+){3}");

    /** The lowest CPython minor version workers run on. */
    static final int MIN_PYTHON_MINOR = 11;

    private Checks() {}

    static String name(String name) {
        return NAME.matcher(name).matches() ? null
                : "invalid name \"" + name + "\": use 1 to 63 lower-case letters, digits, '_' or '-',"
                        + " starting with a letter or digit";
    }

    /** {@code file.py} or {@code file.py:function}, a relative path inside the app. */
    static String entry(String entry) {
        int colon = entry.indexOf(':');
        String file = colon < 0 ? entry : entry.substring(0, colon);
        if (colon >= 0 && !IDENT.matcher(entry.substring(colon + 1)).matches()) {
            return "invalid function \"" + entry.substring(colon + 1) + "\" in \"" + entry
                    + "\": write \"path/to/file.py\" or \"path/to/file.py:function\"";
        }
        String bad = relativePath(file);
        if (bad != null) {
            return bad;
        }
        return file.endsWith(".py") ? null : "\"" + file + "\" is not a Python file: the entry must end in .py";
    }

    /** A path relative to the app directory that cannot leave it. */
    static String relativePath(String path) {
        if (path.isEmpty()) {
            return "the path is empty";
        }
        if (path.startsWith("/") || path.startsWith("~")) {
            return "\"" + path + "\" is absolute: use a path relative to the app directory";
        }
        if (path.indexOf('\\') >= 0 || path.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            return "\"" + path + "\": use '/' as separator and no control characters";
        }
        for (String seg : path.split("/", -1)) {
            if (seg.equals("..")) {
                return "\"" + path + "\" contains \"..\": paths must stay inside the app directory";
            }
            if (seg.isEmpty() || seg.equals(".")) {
                return "\"" + path + "\" has an empty or \".\" segment: write it like \"src/main.py\"";
            }
        }
        return null;
    }

    /**
     * Why a preopen's (already relative) path is refused, or null: it may not be, or lie beneath, a directory the
     * kernel itself writes or runs from ({@link io.ukernel.kernel.policy.Policy.Preopen#RESERVED}): a worker
     * writing there could change the bundle it runs from, the images {@code pack} made, the console log, or the
     * adapter.
     */
    static String preopenPath(String path) {
        String reserved = io.ukernel.kernel.policy.Policy.Preopen.reserved(path);
        return reserved == null ? null
                : reserved + ": put the app's data in its own directory, e.g. path = \"data\"";
    }

    /** {@code 3.N} with N &ge; 11. */
    static String python(String v) {
        var m = PYTHON.matcher(v);
        if (!m.matches()) {
            return "invalid version \"" + v + "\": write \"3.N\", e.g. \"3.11\"";
        }
        return Integer.parseInt(m.group(1)) >= MIN_PYTHON_MINOR ? null
                : "CPython " + v + " is too old: ukernel needs 3." + MIN_PYTHON_MINOR + " or newer";
    }

    static String preopenName(String n) {
        return PREOPEN.matcher(n).matches() ? null
                : "invalid preopen name \"" + n + "\": use letters, digits, '_', '.' or '-'";
    }

    /** Marks a pattern of the UDP allow-list, e.g. {@code "udp:127.0.0.1:5353"} (ABI 1.2). */
    static final String UDP_PREFIX = "udp:";

    /**
     * A {@code host:port} allow-list pattern, or {@code udp:host:port} for UDP (a plain pattern is TCP only). Host: {@code *}, {@code *.example.com}, a host name, an IPv4
     * address or a bracketed IPv6 address. Port: {@code *} or a number ({@code 1..65535}; {@code 0} too for
     * bind, meaning any free port).
     */
    static String hostPort(String p, boolean bind) {
        if (p.startsWith(UDP_PREFIX)) {
            String problem = hostPort(p.substring(UDP_PREFIX.length()), bind);
            return problem == null ? null : problem + " (in the UDP pattern \"" + p + "\")";
        }
        String example = bind ? "\"127.0.0.1:8080\" or \"0.0.0.0:*\"" : "\"127.0.0.1:8080\" or \"*.example.com:443\"";
        String host;
        String port;
        if (p.startsWith("[")) {
            int close = p.indexOf(']');
            if (close < 0 || close + 1 >= p.length() || p.charAt(close + 1) != ':') {
                return "invalid address \"" + p + "\": write an IPv6 address as \"[::1]:8080\"";
            }
            host = p.substring(1, close);
            port = p.substring(close + 2);
            if (!ipv6(host)) {
                return "invalid IPv6 address \"" + host + "\" in \"" + p + "\"";
            }
        } else {
            int colon = p.lastIndexOf(':');
            if (colon < 0) {
                return "invalid address \"" + p + "\": expected host:port, e.g. " + example;
            }
            host = p.substring(0, colon);
            port = p.substring(colon + 1);
            if (host.indexOf(':') >= 0) {
                return "invalid address \"" + p + "\": write IPv6 addresses in brackets, e.g. \"[::1]:8080\"";
            }
            String badHost = host(host);
            if (badHost != null) {
                return "invalid host in \"" + p + "\": " + badHost;
            }
        }
        return port(p, port, bind);
    }

    private static String port(String p, String port, boolean bind) {
        if (port.equals("*")) {
            return null;
        }
        int min = bind ? 0 : 1;
        if (port.isEmpty() || port.length() > 6 || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return "invalid port \"" + port + "\" in \"" + p + "\": use a number (" + min + "..65535) or *";
        }
        int n = Integer.parseInt(port);
        return n >= min && n <= 65535 ? null
                : "port " + n + " in \"" + p + "\" is out of range (" + min + "..65535)";
    }

    private static String host(String h) {
        if (h.equals("*")) {
            return null;
        }
        String name = h.startsWith("*.") ? h.substring(2) : h;
        if (IPV4.matcher(name).matches()) {
            if (h.startsWith("*.")) {
                return "a wildcard applies to host names, not to IP addresses";
            }
            for (String part : name.split("\\.")) {
                if (part.length() > 3 || Integer.parseInt(part) > 255) {
                    return "\"" + h + "\" is not an IPv4 address (each part 0..255)";
                }
            }
            return null;
        }
        if (name.isEmpty() || name.length() > 253) {
            return "empty or too long host name";
        }
        for (String label : name.split("\\.", -1)) {
            if (!LABEL.matcher(label).matches()) {
                return "\"" + h + "\" is not a host name (labels of letters, digits and '-'; '*' only as \"*\""
                        + " or a leading \"*.\")";
            }
        }
        return null;
    }

    private static boolean ipv6(String h) {
        if (h.isEmpty() || !h.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.')) {
            return false;
        }
        try {
            java.net.Inet6Address.ofLiteral(h);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
