/**
 * Files for the IO call family: {@link io.ukernel.kernel.io.Preopens} (the manifest's preopened directories,
 * opened once as {@code O_PATH} descriptors, and the no-escape path resolution beneath them) and
 * {@link io.ukernel.kernel.io.OpenFile} (an open host file behind a handle). Host calls go through the FFM
 * bindings in {@code Libc}. Reactor thread only.
 */
package io.ukernel.kernel.io;
