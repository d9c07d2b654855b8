/**
 * OCI images without Docker or root: reproducible gzip'd tar layers ({@link LayerWriter}), an OCI image layout
 * directory ({@link OciLayout}: {@code oci-layout}, {@code index.json}, {@code blobs/sha256/}) and a
 * {@code docker-archive} tarball of the same image. Every failure is an {@link OciException}.
 */
package io.ukernel.vmm.oci;
