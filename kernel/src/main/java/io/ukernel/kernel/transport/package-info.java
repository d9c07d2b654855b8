/** The worker ↔ kernel transport: the listening endpoint and one frame-serving connection per worker. */
package io.ukernel.kernel.transport;
