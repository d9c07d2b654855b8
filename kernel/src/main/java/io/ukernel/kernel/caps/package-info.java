/** Capability sets and per-task authority (ceiling and active set). */
package io.ukernel.kernel.caps;
