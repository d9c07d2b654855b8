package io.ukernel.vmm.qemu;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * A saved microVM beside its image: {@code dist/NAME.snap} is QEMU's migration stream of a VM booted from
 * {@code dist/NAME.img} and stopped at the guest init's snapshot point ({@link io.ukernel.vmm.RestoreRecord});
 * {@code dist/NAME.snap.properties} is its key — what must be the same for the stream to be restored into a VM
 * that behaves as the saved one did:
 *
 * <ul>
 *   <li>{@code image.sha256}, {@code kernel.sha256}: the image and the guest kernel (a repack makes a new image;
 *       the guest's memory holds the old one's files);</li>
 *   <li>{@code qemu}: QEMU's {@code --version} line (migration streams are not promised across versions);</li>
 *   <li>{@code machine}: the accelerator, CPU model, vCPUs, memory, devices and the guest command line — QEMU
 *       refuses or misloads a stream into another machine;</li>
 *   <li>{@code stream.size}, {@code stream.crc32c}: the stream itself, so a truncated or damaged file is never
 *       loaded.</li>
 * </ul>
 *
 * {@link #check} compares; any difference is a reason to boot cold, said in one line, and the snapshot is not used.
 */
public final class QemuSnapshot {
    /** The format of the key file; a change makes older snapshots mismatch. */
    static final String FORMAT = "1";

    private QemuSnapshot() {}

    /** {@code dist/NAME.snap}. */
    public static Path stream(Path dist, String name) {
        return dist.resolve(name + ".snap");
    }

    /** {@code dist/NAME.snap.properties}. */
    public static Path keyFile(Path dist, String name) {
        return dist.resolve(name + ".snap.properties");
    }

    /** The key of a snapshot of {@code image} and {@code kernel} in {@code machine} under {@code qemuVersion}. */
    static Map<String, String> key(Path image, Path kernel, String qemuVersion, String machine) throws IOException {
        Map<String, String> k = new TreeMap<>();
        k.put("format", FORMAT);
        k.put("image.sha256", sha256(image));
        k.put("kernel.sha256", sha256(kernel));
        k.put("qemu", qemuVersion);
        k.put("machine", machine);
        return k;
    }

    /** Writes the key with the stream's size and checksum. */
    static void writeKey(Path file, Map<String, String> key, Path stream) throws IOException {
        Properties p = new Properties();
        p.putAll(key);
        p.put("stream.size", Long.toString(Files.size(stream)));
        p.put("stream.crc32c", crc32c(stream));
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            p.store(w, "ukernel microVM snapshot key: the snapshot is used only when all of this matches");
        }
    }

    /**
     * Why the snapshot cannot be used for {@code expected}, or empty when it matches.
     *
     * @param expected the key of the VM about to boot ({@link #key})
     */
    static Optional<String> check(Path stream, Path keyFile, Map<String, String> expected) throws IOException {
        if (!Files.isRegularFile(keyFile)) {
            return Optional.of("its key file " + keyFile.getFileName() + " is missing");
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(keyFile, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        for (var e : expected.entrySet()) {
            String saved = p.getProperty(e.getKey());
            if (!e.getValue().equals(saved)) {
                return Optional.of(switch (e.getKey()) {
                    case "image.sha256" -> "it was made of another image (repacked since)";
                    case "kernel.sha256" -> "it was made with another guest kernel";
                    case "qemu" -> "it was made by another QEMU (" + saved + ")";
                    case "machine" -> "it was made for another machine (" + saved + "; now " + e.getValue() + ")";
                    default -> "its " + e.getKey() + " differs";
                });
            }
        }
        long size = Files.size(stream);
        if (!Long.toString(size).equals(p.getProperty("stream.size"))) {
            return Optional.of("it is " + size + " bytes, not the " + p.getProperty("stream.size") + " it was saved "
                    + "with (truncated or replaced)");
        }
        if (!crc32c(stream).equals(p.getProperty("stream.crc32c"))) {
            return Optional.of("its checksum differs from the one it was saved with (damaged)");
        }
        return Optional.empty();
    }

    static String sha256(Path file) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 20];
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String crc32c(Path file) throws IOException {
        CRC32C crc = new CRC32C();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                crc.update(buf, 0, n);
            }
        }
        return Long.toHexString(crc.getValue());
    }
}
