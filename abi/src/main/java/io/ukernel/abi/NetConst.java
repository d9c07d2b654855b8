package io.ukernel.abi;

import java.util.Locale;

/** Numbers taken by the net calls: address families, socket types, shutdown directions, address sides. */
public enum NetConst implements AbiConstant {
    AF_INET(4),
    AF_INET6(6),
    SOCK_STREAM(1),
    SOCK_DGRAM(2),
    SHUT_RD(1),
    SHUT_WR(2),
    SHUT_RDWR(3),
    ADDR_LOCAL(0),
    ADDR_PEER(1);

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
