package io.ukernel.app.bundle;

import io.ukernel.app.Manifest;
import java.nio.file.Path;

/**
 * What a build produced or found up to date.
 *
 * @param manifest    the validated manifest
 * @param bundle      the bundle on disk
 * @param runtime     the interpreter that will run it (detected during this build)
 * @param adapter     the adapter metadata (interpreter, entrypoint)
 * @param adapterJson where {@code adapter} is written
 * @param upToDate    whether nothing had to be written
 */
public record BuildResult(Manifest manifest, BundleInfo bundle, PythonRuntime runtime, AdapterMetadata adapter,
                          Path adapterJson, boolean upToDate) {}
