package io.ukernel.app.bundle;

import io.ukernel.app.Manifest;
import io.ukernel.app.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code build/adapter/python-X.Y/adapter.json}: which interpreter runs the bundle and how to enter it.
 *
 * @param runtime        absolute path of the real interpreter ({@code sys.executable})
 * @param runtimeVersion its version, e.g. {@code 3.11.7}
 * @param adapterVersion the bundled adapter's version
 * @param abiVersion     the ABI version, e.g. {@code 1.0}
 * @param entrypoint     the main task's entry with its function, e.g. {@code src/main.py:main}
 */
public record AdapterMetadata(Path runtime, String runtimeVersion, String adapterVersion, String abiVersion,
                              String entrypoint) {
    /** The file name. */
    public static final String FILE = "adapter.json";
    /** The function an entry without {@code :function} names. */
    public static final String DEFAULT_FUNCTION = "main";

    /** The metadata for running {@code manifest}'s app on {@code runtime} with this build's adapter. */
    public static AdapterMetadata of(PythonRuntime runtime, Manifest manifest) {
        return new AdapterMetadata(runtime.executable(), runtime.version(), Bundle.ADAPTER_VERSION,
                Bundle.abiVersion(), entrypoint(manifest.entry()));
    }

    /** {@code file.py} becomes {@code file.py:main}; {@code file.py:fn} is kept. */
    public static String entrypoint(String entry) {
        return entry.indexOf(':') >= 0 ? entry : entry + ":" + DEFAULT_FUNCTION;
    }

    /** {@code appDir/build/adapter/python-X.Y/adapter.json} for a runtime of version {@code X.Y.*}. */
    public static Path path(Path appDir, PythonRuntime runtime) {
        return appDir.resolve("build/adapter/python-" + runtime.minor()).resolve(FILE);
    }

    /** Writes the file atomically, keys sorted. */
    public void write(Path file) throws IOException {
        Map<String, Object> m = new TreeMap<>();
        m.put("runtime", runtime.toString());
        m.put("runtime_version", runtimeVersion);
        m.put("adapter_version", adapterVersion);
        m.put("abi_version", abiVersion);
        m.put("entrypoint", entrypoint);
        AtomicFiles.write(file, Json.writeSorted(m).getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Reads a file written by {@link #write}.
     *
     * @throws IOException if it cannot be read or lacks a field
     */
    public static AdapterMetadata read(Path file) throws IOException {
        Map<String, String> m;
        try {
            m = Json.readStrings(Files.readString(file));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": not valid adapter metadata (" + e.getMessage() + ")");
        }
        for (String k : new String[] {"runtime", "runtime_version", "adapter_version", "abi_version", "entrypoint"}) {
            if (!m.containsKey(k)) {
                throw new IOException(file + ": missing \"" + k + "\"");
            }
        }
        return new AdapterMetadata(Path.of(m.get("runtime")), m.get("runtime_version"), m.get("adapter_version"),
                m.get("abi_version"), m.get("entrypoint"));
    }
}
