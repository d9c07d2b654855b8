package io.ukernel.app.bundle;

import io.ukernel.app.Manifest;
import io.ukernel.app.ManifestException;
import io.ukernel.app.ManifestParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * The whole of {@code ukernel build}: validate the manifest, check that the entries exist and are bundled, find
 * the CPython and check its version, install {@code requirements.txt} when it changed ({@link Dependencies}),
 * (re)write the bundle if stale, and write the adapter metadata. The
 * interpreter is asked once per build (it may have changed since the last one); files are rewritten only when
 * their content would change.
 */
public final class AppBuilder {
    private final Path adapterDir;
    private final PythonRuntime.Detector detector;
    private final Consumer<String> progress;

    /**
     * @param adapterDir the Python adapter's package directory to bundle
     * @param detector   how to find the interpreter ({@link PythonRuntime#detect()} in production)
     * @param progress   receives the output of long steps (pip installing {@code requirements.txt}), line by line
     */
    public AppBuilder(Path adapterDir, PythonRuntime.Detector detector, Consumer<String> progress) {
        this.adapterDir = adapterDir;
        this.detector = detector;
        this.progress = progress;
    }

    /** Without progress output. */
    public AppBuilder(Path adapterDir, PythonRuntime.Detector detector) {
        this(adapterDir, detector, line -> { });
    }

    /** With {@link PythonRuntime#detect()}. */
    public AppBuilder(Path adapterDir) {
        this(adapterDir, PythonRuntime::detect);
    }

    /**
     * Builds the app in {@code appDir} if anything changed.
     *
     * @param force rebuild the bundle even if it looks up to date
     * @throws ManifestException if the manifest is invalid or names an entry that is missing or not bundled
     * @throws BuildException    if no suitable interpreter is found
     * @throws IOException       if reading inputs or writing outputs fails ({@link BundleException} for an
     *                           input the bundle cannot hold)
     */
    public BuildResult build(Path appDir, boolean force) throws ManifestException, BuildException, IOException {
        Path manifestFile = appDir.resolve(Manifest.FILE_NAME);
        Manifest manifest = ManifestParser.parse(manifestFile);
        checkEntry(appDir, manifest, "entry", manifest.entry());
        for (int i = 0; i < manifest.tasks().size(); i++) {
            checkEntry(appDir, manifest, "task[" + i + "].entry", manifest.tasks().get(i).entry());
        }
        PythonRuntime runtime = detector.detect();
        runtime.requireAtLeast(manifest.python(), manifestFile.toString());

        boolean installed = Dependencies.install(appDir, runtime, force, progress);
        boolean stale = force || installed || Bundle.isStale(appDir, adapterDir);
        if (stale) {
            SourceCheck.check(runtime, BundleInputs.collect(appDir, adapterDir).files);
        }
        BundleInfo info = stale ? new BundleBuilder(appDir, adapterDir).build(manifest) : describe(Bundle.path(appDir));

        AdapterMetadata meta = AdapterMetadata.of(runtime, manifest);
        Path metaFile = AdapterMetadata.path(appDir, runtime);
        boolean metaCurrent = Files.isRegularFile(metaFile) && current(metaFile, meta);
        if (!metaCurrent) {
            meta.write(metaFile);
        }
        return new BuildResult(manifest, info, runtime, meta, metaFile, !stale && metaCurrent);
    }

    private static boolean current(Path metaFile, AdapterMetadata meta) {
        try {
            return AdapterMetadata.read(metaFile).equals(meta);
        } catch (IOException e) {
            return false;
        }
    }

    private static void checkEntry(Path appDir, Manifest m, String key, String entry) throws ManifestException {
        String file = entry.indexOf(':') >= 0 ? entry.substring(0, entry.indexOf(':')) : entry;
        if (!file.startsWith(BundleInputs.SRC + "/")) {
            throw new ManifestException(m.file(), 0, key, "\"" + file + "\" is outside src/, so it is not bundled:"
                    + " move it under src/ and update the entry");
        }
        if (!Files.isRegularFile(appDir.resolve(file), LinkOption.NOFOLLOW_LINKS)) {
            throw new ManifestException(m.file(), 0, key, "\"" + file + "\" does not exist in " + appDir);
        }
    }

    /** Size, file count and hash of an existing bundle. */
    static BundleInfo describe(Path tgz) throws IOException {
        int files = (int) BundleReader.list(tgz).stream().filter(n -> !n.endsWith("/")).count();
        return new BundleInfo(tgz, files, Files.size(tgz), Sha256.hex(tgz));
    }
}
