/**
 * The ABI, defined once: calls, statuses, capabilities, events, limits, the wire codec, and the generator of the C
 * and Python bindings. Depends on nothing.
 */
module io.ukernel.abi {
    exports io.ukernel.abi;
}
