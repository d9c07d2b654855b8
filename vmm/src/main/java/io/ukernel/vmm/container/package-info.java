/**
 * The kernel as the entrypoint of an OCI container ({@code ukernel pack --oci}): {@link ContainerInit} runs it on
 * the process platform, and {@link ContainerPlatform} says in the banner which confinement layers the container
 * allows and, when strict mode cannot be honoured, what to change.
 */
package io.ukernel.vmm.container;
