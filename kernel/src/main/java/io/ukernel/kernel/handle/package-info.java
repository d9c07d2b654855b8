/** Per-task handle tables and the kernel objects handles refer to. */
package io.ukernel.kernel.handle;
