package io.ukernel.app.bundle;

import io.ukernel.abi.Abi;
import io.ukernel.app.Manifest;
import io.ukernel.app.ManifestException;
import io.ukernel.app.ManifestParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** Where an app's bundle lives, what format and versions it has, and whether it must be rebuilt. */
public final class Bundle {
    /** The bundle, relative to the app directory. */
    public static final String FILE = "build/bundle.tgz";
    /** The index inside the bundle. */
    public static final String INDEX = "bundle.json";
    /** Version of the Python adapter this build of ukernel bundles. */
    public static final String ADAPTER_VERSION = "0.1.0";
    /** Version of the bundle layout, recorded in {@code bundle.json}. */
    public static final int FORMAT = 1;

    private Bundle() {}

    /** The bundle file of the app in {@code appDir}. */
    public static Path path(Path appDir) {
        return appDir.resolve(FILE);
    }

    /** The ABI version bundles record, e.g. {@code 1.0}. */
    public static String abiVersion() {
        return Abi.formatVersion(Abi.VERSION);
    }

    /**
     * Whether the bundle must be rebuilt: it is missing or unreadable, an app input ({@code ukernel.toml},
     * {@code src/**}) was modified after it, or the content it would have now differs from the content it has
     * (a file added, removed or changed — including the adapter's, which is compared by hash, not by time, as
     * it is extracted afresh from the CLI for every build). An invalid manifest counts as stale, so that the
     * build reports the error.
     */
    public static boolean isStale(Path appDir, Path adapterDir) {
        Path tgz = path(appDir);
        try {
            if (!Files.isRegularFile(tgz, LinkOption.NOFOLLOW_LINKS)) {
                return true;
            }
            FileTime built = Files.getLastModifiedTime(tgz);
            BundleInputs inputs = BundleInputs.collect(appDir, adapterDir);
            for (Path p : inputs.appPaths) {
                if (Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS).compareTo(built) > 0) {
                    return true;
                }
            }
            Manifest manifest = ManifestParser.parse(appDir.resolve(Manifest.FILE_NAME));
            Map<String, byte[]> content = new TreeMap<>();
            for (BundleInputs.Input in : inputs.files) {
                content.put(in.name(), Files.readAllBytes(in.source()));
            }
            byte[] expected = BundleBuilder.index(manifest, content);
            Optional<byte[]> actual = BundleReader.read(tgz, INDEX);
            return actual.isEmpty() || !Arrays.equals(expected, actual.get());
        } catch (IOException | ManifestException e) {
            return true;
        }
    }
}
