package io.ukernel.vmm;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * The guest's network interface {@code eth0}: an IPv4 address with its prefix length, and the gateway.
 *
 * @param address the guest's address, e.g. {@code 10.0.2.15}
 * @param prefix  the prefix length, e.g. 24
 * @param gateway the default gateway, e.g. {@code 10.0.2.2}
 */
public record NetConfig(String address, int prefix, String gateway) {
    /** QEMU user-mode networking (slirp): the guest is 10.0.2.15/24, the host side 10.0.2.2. */
    public static final NetConfig QEMU_USER = new NetConfig("10.0.2.15", 24, "10.0.2.2");

    public NetConfig {
        bytes(address);
        bytes(gateway);
        if (prefix < 0 || prefix > 32) {
            throw new IllegalArgumentException("prefix length must be 0..32, got " + prefix);
        }
    }

    /** Parses {@code ADDRESS/PREFIX,GATEWAY}, the form {@link #toString} writes. */
    public static NetConfig parse(String text) {
        int slash = text.indexOf('/');
        int comma = text.indexOf(',');
        if (slash < 0 || comma < slash) {
            throw new IllegalArgumentException("expected ADDRESS/PREFIX,GATEWAY, got \"" + text + "\"");
        }
        try {
            return new NetConfig(text.substring(0, slash), Integer.parseInt(text.substring(slash + 1, comma)),
                    text.substring(comma + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad prefix length in \"" + text + "\"");
        }
    }

    /** The four bytes of a dotted IPv4 address (no name lookup). */
    public static byte[] bytes(String dotted) {
        if (!dotted.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            throw new IllegalArgumentException("not an IPv4 address: \"" + dotted + "\"");
        }
        try {
            InetAddress a = InetAddress.getByName(dotted);
            if (!(a instanceof Inet4Address)) {
                throw new IllegalArgumentException("not an IPv4 address: \"" + dotted + "\"");
            }
            return a.getAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IPv4 address: \"" + dotted + "\"");
        }
    }

    /** The netmask's four bytes. */
    public byte[] netmask() {
        long m = prefix == 0 ? 0 : (0xFFFF_FFFFL << (32 - prefix)) & 0xFFFF_FFFFL;
        return new byte[] {(byte) (m >>> 24), (byte) (m >>> 16), (byte) (m >>> 8), (byte) m};
    }

    @Override
    public String toString() {
        return address + "/" + prefix + "," + gateway;
    }
}
