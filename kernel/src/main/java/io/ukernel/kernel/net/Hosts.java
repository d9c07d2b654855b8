package io.ukernel.kernel.net;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.regex.Pattern;

/** Host text as the net calls take and give it: IP literals and DNS names, parsed and printed without DNS. */
public final class Hosts {
    private static final String OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
    private static final Pattern IPV4 = Pattern.compile(OCTET + "(\\." + OCTET + "){3}");
    private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]+");
    private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?");

    private Hosts() {}

    /**
     * The address an IP literal names: a dotted-quad IPv4 address or an IPv6 address without brackets (no
     * shorthand forms like {@code 127.1}). Null when {@code text} is not such a literal.
     */
    public static InetAddress literal(String text) {
        try {
            if (IPV4.matcher(text).matches()) {
                return Inet4Address.ofLiteral(text);
            }
            if (text.indexOf(':') >= 0 && IPV6_CHARS.matcher(text).matches()) {
                return Inet6Address.ofLiteral(text);
            }
        } catch (IllegalArgumentException e) {
            // not a literal after all
        }
        return null;
    }

    /**
     * {@code text} lower-cased without a trailing dot when it is a DNS name (labels of letters, digits, {@code -}
     * and {@code _}; the last label not all digits), else null.
     */
    public static String name(String text) {
        String n = text.endsWith(".") ? text.substring(0, text.length() - 1) : text;
        if (n.isEmpty() || n.length() > 253) {
            return null;
        }
        String[] labels = n.split("\\.", -1);
        for (String label : labels) {
            if (!LABEL.matcher(label).matches()) {
                return null;
            }
        }
        // No top-level domain is numeric; refusing one keeps resolvers from reading "10.1" as an address.
        if (labels[labels.length - 1].chars().allMatch(Character::isDigit)) {
            return null;
        }
        return n.toLowerCase(Locale.ROOT);
    }

    /** Whether {@code a} is of the socket family chosen by {@code ipv6}. */
    public static boolean ofFamily(InetAddress a, boolean ipv6) {
        return ipv6 ? a instanceof Inet6Address : a instanceof Inet4Address;
    }

    /** The family's loopback address ({@code localhost} is never looked up). */
    public static InetAddress loopback(boolean ipv6) {
        return ipv6 ? Inet6Address.ofLiteral("::1") : Inet4Address.ofLiteral("127.0.0.1");
    }

    /** The family's wildcard address. */
    public static InetAddress wildcard(boolean ipv6) {
        return ipv6 ? Inet6Address.ofLiteral("::") : Inet4Address.ofLiteral("0.0.0.0");
    }

    /** An address as the kernel returns it: dotted quad, or RFC 5952 IPv6 text without brackets or scope. */
    public static String format(InetAddress a) {
        if (a instanceof Inet4Address) {
            return a.getHostAddress();
        }
        byte[] b = a.getAddress();
        int[] w = new int[8];
        for (int i = 0; i < 8; i++) {
            w[i] = (b[2 * i] & 0xff) << 8 | (b[2 * i + 1] & 0xff);
        }
        int bestAt = -1;
        int bestLen = 1; // RFC 5952: a single zero word is not shortened
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && w[j] == 0) {
                j++;
            }
            if (j - i > bestLen) {
                bestAt = i;
                bestLen = j - i;
            }
            i = j == i ? i + 1 : j;
        }
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestAt) {
                s.append("::");
                i += bestLen - 1;
                continue;
            }
            if (s.length() > 0 && s.charAt(s.length() - 1) != ':') {
                s.append(':');
            }
            s.append(Integer.toHexString(w[i]));
        }
        return s.toString();
    }

    /** {@code host:port} as a manifest pattern writes it ({@code [v6]:port} for IPv6). */
    public static String hostPort(InetAddress a, int port) {
        return (a instanceof Inet6Address ? "[" + format(a) + "]" : format(a)) + ":" + port;
    }

    /** {@code host:port} of a socket address. */
    public static String hostPort(InetSocketAddress a) {
        return hostPort(a.getAddress(), a.getPort());
    }
}
