package io.ukernel.app.bundle;

import io.ukernel.app.json.Json;
import io.ukernel.app.Manifest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * Writes {@code build/bundle.tgz}, byte-for-byte reproducible: entries sorted by path with their directories,
 * one mtime for all (0, or {@code SOURCE_DATE_EPOCH}), owner 0:0 without names, modes 0644 / 0755 (directories
 * and executable files), gzip header without time or file name. {@code bundle.json} indexes the content
 * (app name, entry, python, adapter and ABI versions, SHA-256 of every file) with sorted keys and no times.
 *
 * <p>The file is written to a temporary name in {@code build/} and renamed into place, so a reader never sees
 * half a bundle. Not thread-safe; one build per app at a time.
 */
public final class BundleBuilder {
    private final Path appDir;
    private final Path adapterDir;
    private long mtime;

    /**
     * @param appDir     the app directory (holding {@code ukernel.toml})
     * @param adapterDir the Python adapter's package directory (holding {@code __init__.py})
     * @throws BundleException if {@code SOURCE_DATE_EPOCH} is set but not a number of seconds
     */
    public BundleBuilder(Path appDir, Path adapterDir) throws BundleException {
        this.appDir = appDir;
        this.adapterDir = adapterDir;
        this.mtime = sourceDateEpoch(System.getenv("SOURCE_DATE_EPOCH"));
    }

    /** Overrides the entries' modification time (seconds since the epoch). */
    public BundleBuilder mtime(long epochSeconds) {
        if (epochSeconds < 0 || epochSeconds > 077777777777L) {
            throw new IllegalArgumentException("mtime out of range: " + epochSeconds);
        }
        this.mtime = epochSeconds;
        return this;
    }

    static long sourceDateEpoch(String value) throws BundleException {
        if (value == null || value.isBlank()) {
            return 0;
        }
        try {
            long v = Long.parseLong(value.strip());
            if (v >= 0 && v <= 077777777777L) {
                return v;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new BundleException("SOURCE_DATE_EPOCH=" + value + " is not a number of seconds since 1970");
    }

    /**
     * Builds the bundle for {@code manifest} and writes it to {@code build/bundle.tgz} atomically.
     *
     * @return what was written
     * @throws BundleException if an input cannot be bundled (a link, a path too long)
     * @throws IOException     if reading inputs or writing the bundle fails
     */
    public BundleInfo build(Manifest manifest) throws IOException {
        Built built = assemble(manifest);
        Path target = Bundle.path(appDir);
        AtomicFiles.write(target, built.tgz());
        return new BundleInfo(target, built.files(), built.tgz().length, Sha256.hex(built.tgz()));
    }

    /** The bundle's bytes, without writing anything. */
    public byte[] toBytes(Manifest manifest) throws IOException {
        return assemble(manifest).tgz();
    }

    private record Built(byte[] tgz, int files) {}

    private Built assemble(Manifest manifest) throws IOException {
        BundleInputs inputs = BundleInputs.collect(appDir, adapterDir);
        Map<String, byte[]> content = new TreeMap<>();
        Map<String, Boolean> executable = new TreeMap<>();
        for (BundleInputs.Input in : inputs.files) {
            content.put(in.name(), Files.readAllBytes(in.source()));
            executable.put(in.name(), in.executable());
        }
        content.put(Bundle.INDEX, index(manifest, content));
        executable.put(Bundle.INDEX, false);

        TreeMap<String, Boolean> entries = new TreeMap<>(); // name -> isDirectory, sorted by path
        inputs.dirs.forEach(d -> entries.put(d + "/", true));
        content.keySet().forEach(f -> entries.put(f, false));

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream gz = gzip(bytes)) {
            TarWriter tar = new TarWriter(gz, mtime);
            for (Map.Entry<String, Boolean> e : entries.entrySet()) {
                if (e.getValue()) {
                    tar.directory(e.getKey(), 0755);
                } else {
                    tar.file(e.getKey(), executable.get(e.getKey()) ? 0755 : 0644, content.get(e.getKey()));
                }
            }
            tar.finish();
        }
        return new Built(bytes.toByteArray(), content.size());
    }

    /** {@code bundle.json} for these contents (everything but itself). */
    static byte[] index(Manifest manifest, Map<String, byte[]> content) {
        Map<String, String> hashes = new TreeMap<>();
        content.forEach((name, data) -> hashes.put(name, Sha256.hex(data)));
        Map<String, Object> index = new TreeMap<>();
        index.put("format", Bundle.FORMAT);
        index.put("name", manifest.name());
        index.put("entry", manifest.entry());
        index.put("python", manifest.python());
        index.put("adapter_version", Bundle.ADAPTER_VERSION);
        index.put("abi_version", Bundle.abiVersion());
        index.put("files", hashes);
        return Json.writeSorted(index).getBytes(StandardCharsets.UTF_8);
    }

    /** gzip with a fixed header (no mtime, no name) and best compression. */
    private static OutputStream gzip(OutputStream out) throws IOException {
        return new GZIPOutputStream(out, 65536) {
            {
                def.setLevel(Deflater.BEST_COMPRESSION);
            }
        };
    }
}
