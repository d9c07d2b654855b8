/** Firecracker's API requests, one record per endpoint, each shaped like its swagger definition. */
package io.ukernel.vmm.firecracker.request;
