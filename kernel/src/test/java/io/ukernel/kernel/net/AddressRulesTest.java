package io.ukernel.kernel.net;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class AddressRulesTest {
    static AddressRules rules(String... patterns) {
        return AddressRules.parse(List.of(patterns));
    }

    static InetAddress ip(String literal) {
        return InetAddress.ofLiteral(literal);
    }

    @Provide
    Arbitrary<InetAddress> ipv4() {
        return Arbitraries.bytes().array(byte[].class).ofSize(4).map(b -> {
            try {
                return InetAddress.getByAddress(b);
            } catch (java.net.UnknownHostException e) {
                throw new AssertionError(e);
            }
        });
    }

    @Provide
    Arbitrary<String> names() {
        Arbitrary<String> label = Arbitraries.strings().withCharRange('a', 'z').numeric().withChars('-')
                .ofMinLength(1).ofMaxLength(10).filter(l -> !l.startsWith("-") && !l.endsWith("-"));
        return label.list().ofMinSize(1).ofMaxSize(4).map(l -> String.join(".", l))
                .filter(n -> Hosts.literal(n) == null && Hosts.name(n) != null);
    }

    @Property
    void anIpRule_matchesThatAddressAtThatPortOnly(@ForAll("ipv4") InetAddress a,
            @ForAll @IntRange(min = 1, max = 65535) int port, @ForAll @IntRange(min = 0, max = 65535) int other) {
        AddressRules r = rules(Hosts.hostPort(a, port));
        assertTrue(r.allows(null, a, port));
        assertTrue(r.allows("any.name", a, port), "the address decides when the name does not");
        assertFalse(other != port && r.allows(null, a, other));
        assertFalse(r.allowsName(Hosts.format(a), port), "an IP rule never matches by name");
    }

    @Property
    void theStarRule_matchesEverything(@ForAll("ipv4") InetAddress a, @ForAll("names") String name,
            @ForAll @IntRange(min = 0, max = 65535) int port) {
        AddressRules r = rules("*:*");
        assertTrue(r.allows(null, a, port));
        assertTrue(r.allowsName(name, port));
    }

    @Property
    void aSuffixRule_matchesSubdomainsInAnyCase_butNotTheDomainItselfNorAddresses(@ForAll("names") String sub,
            @ForAll("ipv4") InetAddress a) {
        AddressRules r = rules("*.example.com:443");
        assertTrue(r.allowsName(sub + ".example.com", 443));
        assertTrue(r.allowsName((sub + ".Example.COM").toUpperCase(Locale.ROOT), 443));
        assertFalse(r.allowsName("example.com", 443));
        assertFalse(r.allowsName(sub + ".example.com", 444));
        assertFalse(r.allowsName(sub + "example.com", 443), "a label boundary is required");
        assertFalse(r.allows(null, a, 443));
    }

    @Property
    void aNameRule_matchesThatNameOnly(@ForAll("names") String name, @ForAll("names") String other) {
        AddressRules r = rules(name + ":80");
        assertTrue(r.allowsName(name.toUpperCase(Locale.ROOT), 80));
        assertFalse(!other.equals(name) && r.allowsName(other, 80));
    }

    @Test
    void portZero_matchesOnlyAnEphemeralBind_andStarMatchesItToo() {
        assertTrue(rules("127.0.0.1:0").allows(null, ip("127.0.0.1"), 0));
        assertFalse(rules("127.0.0.1:0").allows(null, ip("127.0.0.1"), 8080));
        assertTrue(rules("127.0.0.1:*").allows(null, ip("127.0.0.1"), 0));
        assertFalse(rules("127.0.0.1:8080").allows(null, ip("127.0.0.1"), 0));
    }

    @Test
    void wildcardBindAddresses_matchOnlyStarOrTheSameLiteral() {
        InetAddress any4 = Hosts.wildcard(false);
        InetAddress any6 = Hosts.wildcard(true);
        assertTrue(rules("0.0.0.0:80").allows(null, any4, 80));
        assertTrue(rules("*:80").allows(null, any4, 80));
        assertFalse(rules("127.0.0.1:80").allows(null, any4, 80));
        assertFalse(rules("0.0.0.0:80").allows(null, any6, 80));
        assertTrue(rules("[::]:80").allows(null, any6, 80));
    }

    @Test
    void ipv6Rules_compareAddressesNotText() {
        AddressRules r = rules("[::1]:8080", "[2001:db8::7]:*");
        assertTrue(r.allows(null, ip("0:0:0:0:0:0:0:1"), 8080));
        assertTrue(r.allows(null, ip("2001:0db8:0:0:0:0:0:7"), 1));
        assertFalse(r.allows(null, ip("127.0.0.1"), 8080));
        assertFalse(r.allowsName("localhost6", 8080), "an IP rule never admits a name");
    }

    @Test
    void udpPatterns_formTheirOwnRules_andNeitherKindAdmitsTheOther() {
        List<String> list = List.of("10.0.0.1:80", "udp:10.0.0.1:53", "udp:[::1]:*");
        AddressRules tcp = AddressRules.parse(list, false);
        AddressRules udp = AddressRules.parse(list, true);
        assertTrue(tcp.allows(null, ip("10.0.0.1"), 80));
        assertFalse(tcp.allows(null, ip("10.0.0.1"), 53), "a UDP pattern admits no TCP connect");
        assertTrue(udp.allows(null, ip("10.0.0.1"), 53));
        assertTrue(udp.allows(null, ip("::1"), 5353));
        assertFalse(udp.allows(null, ip("10.0.0.1"), 80), "a TCP pattern admits no datagram");
        assertFalse(AddressRules.parse(list).allowsName("udp", 10), "parse(list) is the TCP rules");
    }

    @Test
    void anyRuleSuffices() {
        AddressRules r = rules("db.internal:5432", "10.0.0.1:80", "*.svc:*");
        assertTrue(r.allows("db.internal", null, 5432));
        assertTrue(r.allows(null, ip("10.0.0.1"), 80));
        assertTrue(r.allows("a.svc", null, 1));
        assertFalse(r.allows("db.internal", null, 5433));
        assertFalse(rules().allows("localhost", ip("127.0.0.1"), 80), "an empty list allows nothing");
    }

    @Test
    void malformedPatterns_areRejected() {
        for (String bad : List.of("nohost", ":80", "h:port", "h:70000", "[nope]:1")) {
            assertThrows(IllegalArgumentException.class, () -> rules(bad), bad);
        }
    }
}
