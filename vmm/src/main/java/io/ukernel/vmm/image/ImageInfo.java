package io.ukernel.vmm.image;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;

/**
 * What an image holds, recorded in it as {@code /ukernel/image.properties} (its first file, so the host reads it
 * without unpacking the rest) and read by the guest's init.
 *
 * @param app            the app's name (from {@code ukernel.toml})
 * @param bundleSha256   SHA-256 of the app's {@code build/bundle.tgz} the image holds
 * @param ukernelVersion the ukernel release that packed it
 * @param jarsSha256     SHA-256 over the kernel's jars (an image is stale when the kernel changed)
 * @param python         the interpreter's absolute path in the guest
 * @param pythonVersion  its version, e.g. {@code 3.11.7}
 * @param kernelRelease  the guest kernel's release the modules are for (may be empty)
 * @param modules        the kernel modules' paths in the guest, in load order (for the network device)
 */
public record ImageInfo(String app, String bundleSha256, String ukernelVersion, String jarsSha256, String python,
        String pythonVersion, String kernelRelease, List<String> modules) {
    /** The file's path in the image (relative to /). */
    public static final String PATH = "ukernel/image.properties";
    /** Version of the image layout. */
    public static final int FORMAT = 1;

    public ImageInfo {
        modules = List.copyOf(modules);
    }

    /** The file's bytes: sorted {@code key=value} lines, no timestamp (the image is reproducible). */
    public byte[] toBytes() {
        Map<String, String> m = new TreeMap<>();
        m.put("format", Integer.toString(FORMAT));
        m.put("app", app);
        m.put("bundle.sha256", bundleSha256);
        m.put("ukernel.version", ukernelVersion);
        m.put("jars.sha256", jarsSha256);
        m.put("python", python);
        m.put("python.version", pythonVersion);
        m.put("kernel.release", kernelRelease);
        m.put("modules", String.join(":", modules));
        StringBuilder b = new StringBuilder("# ukernel image\n");
        m.forEach((k, v) -> b.append(k).append('=').append(v.replace("\\", "\\\\")).append('\n'));
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Parses the file.
     *
     * @throws IOException if a key is missing or the format is not this one
     */
    public static ImageInfo parse(byte[] bytes) throws IOException {
        Properties p = new Properties();
        p.load(new java.io.InputStreamReader(new ByteArrayInputStream(bytes), StandardCharsets.UTF_8));
        String format = p.getProperty("format");
        if (!Integer.toString(FORMAT).equals(format)) {
            throw new IOException("image format " + format + " is not " + FORMAT + " (repack with `ukernel pack`)");
        }
        for (String k : List.of("app", "bundle.sha256", "ukernel.version", "jars.sha256", "python", "python.version")) {
            if (p.getProperty(k) == null) {
                throw new IOException("image metadata lacks " + k);
            }
        }
        String mods = p.getProperty("modules", "");
        return new ImageInfo(p.getProperty("app"), p.getProperty("bundle.sha256"), p.getProperty("ukernel.version"),
                p.getProperty("jars.sha256"), p.getProperty("python"), p.getProperty("python.version"),
                p.getProperty("kernel.release", ""), mods.isEmpty() ? List.of() : List.of(mods.split(":")));
    }

    /**
     * Reads the metadata of the image at {@code image} (a cpio archive, gzip'd or not) from its first entries.
     *
     * @return empty if the file is not a ukernel image
     * @throws IOException if it cannot be read
     */
    public static Optional<ImageInfo> read(Path image) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(image), 1 << 16)) {
            raw.mark(2);
            int b0 = raw.read();
            int b1 = raw.read();
            raw.reset();
            InputStream in = b0 == 0x1f && b1 == 0x8b ? new GZIPInputStream(raw, 1 << 16) : raw;
            for (int i = 0; i < 16; i++) {
                byte[] h = in.readNBytes(110);
                if (h.length < 110 || !new String(h, 0, 6, StandardCharsets.US_ASCII).equals("070701")) {
                    return Optional.empty();
                }
                long size = hex(h, 54);
                int nameSize = (int) hex(h, 94);
                byte[] name = in.readNBytes(nameSize);
                in.skipNBytes(pad(110 + nameSize));
                String n = new String(name, 0, Math.max(0, nameSize - 1), StandardCharsets.UTF_8);
                if (n.equals("TRAILER!!!")) {
                    return Optional.empty();
                }
                if (n.equals(PATH)) {
                    return Optional.of(parse(in.readNBytes((int) Math.min(size, 1 << 20))));
                }
                in.skipNBytes(size + pad(size));
            }
            return Optional.empty();
        } catch (java.io.EOFException | java.util.zip.ZipException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static long hex(byte[] h, int off) {
        return Long.parseLong(new String(h, off, 8, StandardCharsets.US_ASCII), 16);
    }

    private static long pad(long n) {
        return (4 - n % 4) % 4;
    }

    /** The modules as a list of guest paths (for tests and messages). */
    public List<String> moduleNames() {
        List<String> names = new ArrayList<>();
        modules.forEach(m -> names.add(KernelModules.name(m)));
        return names;
    }
}
