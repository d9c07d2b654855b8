package io.ukernel.vmm;

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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * What must be the same for a saved microVM (QEMU's migration stream, Firecracker's state and memory files) to be
 * restored into a VM that behaves as the saved one did, kept in a properties file beside it:
 *
 * <ul>
 *   <li>{@code image.sha256}, {@code kernel.sha256}: the image and the guest kernel (a repack makes a new image;
 *       the saved guest's memory holds the old one's files);</li>
 *   <li>{@code vmm}: the VMM and its {@code --version} line (saved states are not promised across versions);</li>
 *   <li>{@code machine}: vCPUs, memory, devices, the guest command line — a VMM refuses or misloads a state saved
 *       from another machine;</li>
 *   <li>{@code FILE.size}, {@code FILE.crc32c} for each saved file, so a truncated or damaged one is never
 *       loaded.</li>
 * </ul>
 *
 * {@link #check} says why a saved VM cannot be used; the caller then boots cold, after one line saying so.
 */
public final class SnapshotKey {
    /** The format of the key file; a change makes older snapshots mismatch. */
    static final String FORMAT = "1";

    private SnapshotKey() {}

    /** The key of a VM saved from {@code image} and {@code kernel} by {@code vmm} at {@code version}. */
    public static Map<String, String> of(Path image, Path kernel, String vmm, String version, String machine)
            throws IOException {
        return expected(null, image, kernel, vmm, version, machine);
    }

    /**
     * The key a VM about to boot from {@code image} and {@code kernel} must find in {@code keyFile}. The digests of
     * files whose identity — device, inode, size, modification and change times, as {@code stat} gives them —
     * is the one the key file recorded are taken from it instead of being computed again (the change time moves on
     * any write and cannot be set back, as git's index relies on); any other file is hashed, and so is a file
     * changed no earlier than the key file was written (the times are coarse: a write in the same tick as the key
     * would not show — git's "racily clean" rule).
     */
    public static Map<String, String> expected(Path keyFile, Path image, Path kernel, String vmm, String version,
            String machine) throws IOException {
        boolean have = keyFile != null && Files.isRegularFile(keyFile);
        Properties prev = have ? load(keyFile) : new Properties();
        java.nio.file.attribute.FileTime written = have ? Files.getLastModifiedTime(keyFile) : null;
        Map<String, String> k = new TreeMap<>();
        k.put("format", FORMAT);
        k.put("image.sha256", digest(image, "image", prev, written));
        k.put("kernel.sha256", digest(kernel, "kernel", prev, written));
        k.put("vmm", vmm + ": " + version);
        k.put("machine", machine);
        return k;
    }

    private static String digest(Path file, String name, Properties prev, java.nio.file.attribute.FileTime written)
            throws IOException {
        String known = prev.getProperty(name + ".sha256");
        if (known != null && stat(file).equals(prev.getProperty(name + ".stat"))
                && ((java.nio.file.attribute.FileTime) Files.getAttribute(file, "unix:ctime")).compareTo(written) < 0) {
            return known;
        }
        return sha256(file);
    }

    /** A file's identity: device, inode, size, modification and change times. */
    static String stat(Path file) throws IOException {
        Map<String, Object> a = Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime,ctime");
        return a.get("dev") + ":" + a.get("ino") + ":" + a.get("size") + ":" + a.get("lastModifiedTime") + ":"
                + a.get("ctime");
    }

    private static Properties load(Path keyFile) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(keyFile, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        return p;
    }

    /**
     * Writes {@code key} with each saved file's size and checksum, and the identity of {@code image} and
     * {@code kernel} (for {@link #expected}).
     */
    public static void write(Path file, Map<String, String> key, List<Path> saved, Path image, Path kernel)
            throws IOException {
        Properties p = new Properties();
        p.putAll(key);
        p.put("image.stat", stat(image));
        p.put("kernel.stat", stat(kernel));
        for (Path s : saved) {
            p.put(s.getFileName() + ".size", Long.toString(Files.size(s)));
            p.put(s.getFileName() + ".crc32c", crc32c(s));
        }
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            p.store(w, "ukernel microVM snapshot key: the snapshot is used only when all of this matches");
        }
    }

    /**
     * Why the saved files cannot be restored into the VM {@code expected} describes ({@link #of}), or empty when
     * they can.
     */
    public static Optional<String> check(Path keyFile, Map<String, String> expected, List<Path> saved)
            throws IOException {
        if (!Files.isRegularFile(keyFile)) {
            return Optional.of("its key file " + keyFile.getFileName() + " is missing");
        }
        Properties p = load(keyFile);
        for (var e : expected.entrySet()) {
            String was = p.getProperty(e.getKey());
            if (!e.getValue().equals(was)) {
                return Optional.of(switch (e.getKey()) {
                    case "image.sha256" -> "it was made of another image (repacked since)";
                    case "kernel.sha256" -> "it was made with another guest kernel";
                    case "vmm" -> "it was made by another VMM version (" + was + "; now " + e.getValue() + ")";
                    case "machine" -> "it was made for another machine (" + was + "; now " + e.getValue() + ")";
                    default -> "its " + e.getKey() + " differs";
                });
            }
        }
        for (Path s : saved) {
            String name = s.getFileName().toString();
            if (!Files.isRegularFile(s)) {
                return Optional.of(name + " is missing");
            }
            long size = Files.size(s);
            if (!Long.toString(size).equals(p.getProperty(name + ".size"))) {
                return Optional.of(name + " is " + size + " bytes, not the " + p.getProperty(name + ".size")
                        + " it was saved with (truncated or replaced)");
            }
            if (!crc32c(s).equals(p.getProperty(name + ".crc32c"))) {
                return Optional.of(name + "'s checksum differs from the one it was saved with (damaged)");
            }
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
