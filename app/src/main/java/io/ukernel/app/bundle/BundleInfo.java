package io.ukernel.app.bundle;

import java.nio.file.Path;

/**
 * A bundle on disk.
 *
 * @param path   the {@code bundle.tgz}
 * @param files  regular files in it ({@code bundle.json} included)
 * @param bytes  its size
 * @param sha256 SHA-256 of the whole file, lower-case hex
 */
public record BundleInfo(Path path, int files, long bytes, String sha256) {}
