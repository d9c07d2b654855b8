/**
 * The app bundle ({@code build/bundle.tgz}) and the build that produces it: a byte-for-byte reproducible
 * gzip'd ustar archive of the manifest, the app's sources, the Python adapter and a {@code bundle.json} index,
 * plus the adapter metadata ({@code build/adapter/python-X.Y/adapter.json}) that records which CPython runs it.
 * Bundles are read back as untrusted input: extraction refuses absolute paths, {@code ..}, links and special
 * files.
 */
package io.ukernel.app.bundle;
