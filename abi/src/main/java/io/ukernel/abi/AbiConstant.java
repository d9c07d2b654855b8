package io.ukernel.abi;

/**
 * One named number of the ABI. Every enum in this package that crosses the wire implements it, so the
 * generators ({@link AbiGenerator}) can emit the C header and the Python constants from the same values the
 * kernel uses: there is exactly one place where a number is written down.
 */
public interface AbiConstant {
    /** The value on the wire. */
    long value();

    /** The lower-case ABI name, e.g. {@code log_write} or {@code err_denied}. */
    String abiName();
}
