/**
 * The Firecracker backend: a hand-written HTTP/1.1 client of Firecracker's API over its Unix socket, one request
 * record per endpoint ({@code request/}), and the {@code --config-file} writer.
 */
package io.ukernel.vmm.firecracker;
