/** The service interface between the kernel and the platforms that host its workers. */
package io.ukernel.platform.spi;
