/**
 * The ukernel ABI, defined once: call numbers and signatures ({@link io.ukernel.abi.Call}), status codes,
 * capability, event and flag bits, published limits ({@link io.ukernel.abi.Abi}), and the wire codec
 * ({@link io.ukernel.abi.FrameCodec}). The C header and the Python constants are generated from here by
 * {@link io.ukernel.abi.AbiGenerator}. This package depends on nothing but {@code java.base}.
 */
package io.ukernel.abi;
