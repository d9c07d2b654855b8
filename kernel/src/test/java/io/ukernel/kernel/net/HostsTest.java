package io.ukernel.kernel.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.InetAddress;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class HostsTest {
    @Property
    void formattedAddresses_parseBackToTheSameAddress(@ForAll @Size(16) byte[] v6, @ForAll @Size(4) byte[] v4)
            throws Exception {
        for (byte[] raw : new byte[][] {v6, v4}) {
            InetAddress a = InetAddress.getByAddress(raw);
            assertEquals(a, Hosts.literal(Hosts.format(a)), Hosts.format(a));
        }
    }

    @Test
    void ipv6_isPrintedCompressed_asRfc5952Says() {
        assertEquals("::1", Hosts.format(InetAddress.ofLiteral("0:0:0:0:0:0:0:1")));
        assertEquals("::", Hosts.format(InetAddress.ofLiteral("::")));
        assertEquals("2001:db8::1", Hosts.format(InetAddress.ofLiteral("2001:0db8:0:0:0:0:0:1")));
        assertEquals("2001:db8:0:1:1:1:1:1", Hosts.format(InetAddress.ofLiteral("2001:db8:0:1:1:1:1:1")));
        assertEquals("2001:0:0:1::1", Hosts.format(InetAddress.ofLiteral("2001:0:0:1:0:0:0:1")));
        assertEquals("fe80::", Hosts.format(InetAddress.ofLiteral("fe80::")));
        assertEquals("[::1]:80", Hosts.hostPort(InetAddress.ofLiteral("::1"), 80));
    }

    @Test
    void literals_areStrict_andNamesAreLowerCased() {
        assertEquals(InetAddress.ofLiteral("127.0.0.1"), Hosts.literal("127.0.0.1"));
        assertNull(Hosts.literal("127.1"), "no BSD shorthand");
        assertNull(Hosts.literal("256.0.0.1"));
        assertNull(Hosts.literal("[::1]"), "brackets belong to patterns, not to hosts");
        assertNull(Hosts.literal("example.com"));
        assertEquals("db.example.com", Hosts.name("DB.Example.com."));
        assertNull(Hosts.name("bad host"));
        assertNull(Hosts.name(""));
        assertNull(Hosts.name("-x.com"));
        assertNull(Hosts.name("1.2.3.4"));
        assertNull(Hosts.name("10.1"), "numeric forms are not names");
    }
}
