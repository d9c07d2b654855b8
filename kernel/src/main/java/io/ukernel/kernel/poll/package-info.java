/** Readiness: objects with signals ({@link io.ukernel.kernel.poll.Waitable}) and waiters parked on them. */
package io.ukernel.kernel.poll;
