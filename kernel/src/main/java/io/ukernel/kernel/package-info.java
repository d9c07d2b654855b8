/**
 * The kernel core: the {@link io.ukernel.kernel.Kernel} and its single-threaded {@link io.ukernel.kernel.Reactor},
 * the task table, and the clocks. Sub-packages hold capabilities, handles, the call table and families, the
 * console and the transport.
 */
package io.ukernel.kernel;
