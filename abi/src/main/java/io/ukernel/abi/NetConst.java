package io.ukernel.abi;

import java.util.Locale;

/**
 * Numbers taken by the net calls: address families, socket types (and the DIRECT flag), shutdown directions,
 * address sides.
 */
public enum NetConst implements AbiConstant {
    AF_INET(4),
    AF_INET6(6),
    SOCK_STREAM(1),
    SOCK_DGRAM(2),
    SHUT_RD(1),
    SHUT_WR(2),
    SHUT_RDWR(3),
    ADDR_LOCAL(0),
    ADDR_PEER(1),
    /**
     * ABI 1.1: OR-ed into {@code net_socket}'s type, asks for a direct socket: once connected (or accepted from
     * it, for a listener) the worker is granted the host descriptor and moves the bytes itself.
     */
    DIRECT(0x100);

    private final int code;

    NetConst(int code) {
        this.code = code;
    }

    @Override
    public long value() {
        return code;
    }

    @Override
    public String abiName() {
        return "net_" + name().toLowerCase(Locale.ROOT);
    }
}
