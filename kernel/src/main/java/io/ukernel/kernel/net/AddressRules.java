package io.ukernel.kernel.net;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One allow-list of the manifest ({@code net.bind} or {@code net.connect}): {@code host:port} patterns, any of
 * which allows a request. A host is {@code *}, a name ({@code localhost}), a name suffix ({@code *.example.com},
 * which does not match {@code example.com} itself), an IPv4 address or a bracketed IPv6 address; a port is
 * {@code *} or a number ({@code 0} matches only a request for port 0: an ephemeral bind). Names are compared
 * case-insensitively; addresses by value. A pattern written {@code udp:host:port} belongs to the UDP rules of the
 * same list, any other to the TCP rules ({@link #parse(List, boolean)}). Immutable.
 */
public final class AddressRules {
    private static final int ANY_PORT = -1;

    private enum Kind { ANY, NAME, SUFFIX, ADDRESS }

    private record Rule(Kind kind, String name, InetAddress address, int port) {
        boolean portMatches(int p) {
            return port == ANY_PORT || port == p;
        }

        boolean nameMatches(String n) {
            return switch (kind) {
                case ANY -> true;
                case NAME -> n.equals(name);
                case SUFFIX -> n.length() > name.length() && n.endsWith(name);
                case ADDRESS -> false;
            };
        }

        boolean addressMatches(InetAddress a) {
            return kind == Kind.ANY || kind == Kind.ADDRESS && address.equals(a);
        }
    }

    private final List<Rule> rules;

    private AddressRules(List<Rule> rules) {
        this.rules = rules;
    }

    /**
     * The rules of {@code patterns} (already validated by the manifest parser).
     *
     * @throws IllegalArgumentException when a pattern is malformed
     */
    public static AddressRules parse(List<String> patterns) {
        return parse(patterns, false);
    }

    /**
     * The TCP rules of {@code patterns} (those without a protocol prefix), or with {@code udp} the UDP rules (those
     * written {@code udp:host:port}, ABI 1.2): one manifest list holds both, and neither admits the other's traffic.
     *
     * @throws IllegalArgumentException when a pattern is malformed
     */
    public static AddressRules parse(List<String> patterns, boolean udp) {
        List<Rule> out = new ArrayList<>(patterns.size());
        for (String p : patterns) {
            boolean isUdp = p.startsWith(UDP_PREFIX);
            if (isUdp == udp) {
                out.add(rule(isUdp ? p.substring(UDP_PREFIX.length()) : p));
            }
        }
        return new AddressRules(List.copyOf(out));
    }

    /** How a UDP pattern starts in the manifest's lists (a pattern without it is TCP only). */
    public static final String UDP_PREFIX = "udp:";

    private static Rule rule(String p) {
        int colon = p.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("not host:port: " + p);
        }
        String host = p.substring(0, colon);
        String portText = p.substring(colon + 1);
        int port;
        try {
            port = portText.equals("*") ? ANY_PORT : Integer.parseInt(portText);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port in " + p);
        }
        if (port < ANY_PORT || port > 65535) {
            throw new IllegalArgumentException("bad port in " + p);
        }
        if (host.equals("*")) {
            return new Rule(Kind.ANY, null, null, port);
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            InetAddress a = Hosts.literal(host.substring(1, host.length() - 1));
            if (a == null) {
                throw new IllegalArgumentException("bad IPv6 address in " + p);
            }
            return new Rule(Kind.ADDRESS, null, a, port);
        }
        InetAddress a = Hosts.literal(host);
        if (a != null) {
            return new Rule(Kind.ADDRESS, null, a, port);
        }
        if (host.startsWith("*.")) {
            return new Rule(Kind.SUFFIX, host.substring(1).toLowerCase(Locale.ROOT), null, port);
        }
        return new Rule(Kind.NAME, host.toLowerCase(Locale.ROOT), null, port);
    }

    /** Whether a rule matches {@code name} itself ({@code *}, the name, or a suffix of it) at {@code port}. */
    public boolean allowsName(String name, int port) {
        String n = name.toLowerCase(Locale.ROOT);
        return rules.stream().anyMatch(r -> r.portMatches(port) && r.nameMatches(n));
    }

    /** Whether a rule matches the address ({@code *}, or that IP) at {@code port}. */
    public boolean allowsAddress(InetAddress address, int port) {
        return rules.stream().anyMatch(r -> r.portMatches(port) && r.addressMatches(address));
    }

    /** Whether a request is allowed by its name (may be null) or by the address it will use (may be null). */
    public boolean allows(String name, InetAddress address, int port) {
        return name != null && allowsName(name, port) || address != null && allowsAddress(address, port);
    }
}
