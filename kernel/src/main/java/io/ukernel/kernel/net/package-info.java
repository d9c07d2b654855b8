/**
 * TCP for the net calls, driven by the kernel's reactor: sockets ({@link io.ukernel.kernel.net.NetSocket}) that
 * buffer both directions in the kernel so their readiness is always known without asking the host, the address
 * allow-lists ({@link io.ukernel.kernel.net.AddressRules}) and host-name resolution off the reactor thread.
 * Everything here runs on the reactor thread except {@link io.ukernel.kernel.net.Resolver} lookups.
 */
package io.ukernel.kernel.net;
