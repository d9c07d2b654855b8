package io.ukernel.app.bundle;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads bundles, treating them as untrusted: only regular files and directories with relative names that stay
 * inside the destination are accepted; absolute names, {@code ..}, links, devices and extended headers are
 * refused, and sizes are bounded. Extraction goes into a new or empty directory (so nothing already there, such
 * as a planted link, can redirect a write), and what was extracted is removed again if the bundle turns out
 * to be bad.
 */
public final class BundleReader {
    /** Most bytes of content a bundle may hold. */
    public static final long MAX_BYTES = 1L << 30;
    /** Most entries a bundle may hold. */
    public static final int MAX_ENTRIES = 100_000;

    private BundleReader() {}

    /**
     * Extracts {@code tgz} into {@code dest}, which must not exist or be an empty directory.
     *
     * @throws BundleException if the bundle is malformed or unsafe, or {@code dest} is not empty
     * @throws IOException     on a read or write failure
     */
    public static void extract(Path tgz, Path dest) throws IOException {
        boolean created = false;
        if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.isDirectory(dest, LinkOption.NOFOLLOW_LINKS)) {
                throw new BundleException(dest + ": not a directory");
            }
            try (Stream<Path> s = Files.list(dest)) {
                if (s.findAny().isPresent()) {
                    throw new BundleException(dest + ": extract into a new or empty directory");
                }
            }
        } else {
            Files.createDirectories(dest);
            created = true;
        }
        Path root = dest.toAbsolutePath().normalize();
        try {
            unpack(tgz, root);
        } catch (IOException | RuntimeException e) {
            clean(root, created);
            throw e;
        }
    }

    private static void unpack(Path tgz, Path root) throws IOException {
        try (InputStream in = open(tgz)) {
            TarReader tar = new TarReader(in);
            long total = 0;
            int count = 0;
            for (TarReader.Header h; (h = tar.next()) != null; ) {
                if (++count > MAX_ENTRIES) {
                    throw new BundleException(tgz + ": more than " + MAX_ENTRIES + " entries");
                }
                total += h.size();
                if (total > MAX_BYTES) {
                    throw new BundleException(tgz + ": content larger than " + MAX_BYTES + " bytes");
                }
                String name = safeName(h);
                Path target = root.resolve(name).normalize();
                if (!target.startsWith(root) || target.equals(root)) {
                    throw new BundleException(h.name() + ": entry escapes the destination");
                }
                if (h.type() == '5') {
                    mkdirs(root, target);
                    continue;
                }
                mkdirs(root, target.getParent());
                try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                    tar.copyContent(out);
                } catch (FileAlreadyExistsException e) {
                    throw new BundleException(h.name() + ": duplicate entry");
                }
                permissions(target, (h.mode() & 0111) != 0 ? "rwxr-xr-x" : "rw-r--r--");
            }
        }
    }

    /** The entry's name, relative and clean, or an exception saying why it is refused. */
    static String safeName(TarReader.Header h) throws BundleException {
        String n = h.name();
        switch (h.type()) {
            case '0', '5' -> { }
            case '1', '2' -> throw new BundleException(n + ": links are not allowed in a bundle");
            default -> throw new BundleException(n + ": entry type '" + h.type() + "' is not allowed in a bundle"
                    + " (only files and directories)");
        }
        if (n.startsWith("/")) {
            throw new BundleException(n + ": absolute paths are not allowed in a bundle");
        }
        if (n.indexOf('\\') >= 0 || n.indexOf('\0') >= 0) {
            throw new BundleException(n + ": backslashes and NUL are not allowed in entry names");
        }
        while (n.startsWith("./")) {
            n = n.substring(2);
        }
        if (n.endsWith("/")) {
            n = n.substring(0, n.length() - 1);
        }
        if (n.isEmpty()) {
            throw new BundleException("\"" + h.name() + "\": empty entry name");
        }
        for (String seg : n.split("/", -1)) {
            if (seg.equals("..")) {
                throw new BundleException(h.name() + ": \"..\" is not allowed in a bundle");
            }
            if (seg.isEmpty() || seg.equals(".")) {
                throw new BundleException(h.name() + ": empty or \".\" path segment");
            }
        }
        return n;
    }

    /** Names of the entries, in archive order (directories end with {@code /}). */
    public static List<String> list(Path tgz) throws IOException {
        List<String> out = new ArrayList<>();
        try (InputStream in = open(tgz)) {
            TarReader tar = new TarReader(in);
            for (TarReader.Header h; (h = tar.next()) != null; ) {
                out.add(h.name());
                if (out.size() > MAX_ENTRIES) {
                    throw new BundleException(tgz + ": more than " + MAX_ENTRIES + " entries");
                }
            }
        }
        return out;
    }

    /** The content of the regular file {@code name} in the bundle, if present (at most 16 MiB). */
    public static Optional<byte[]> read(Path tgz, String name) throws IOException {
        try (InputStream in = open(tgz)) {
            TarReader tar = new TarReader(in);
            for (TarReader.Header h; (h = tar.next()) != null; ) {
                if (h.name().equals(name) && h.type() == '0') {
                    if (h.size() > 16 << 20) {
                        throw new BundleException(name + ": too large to read into memory");
                    }
                    ByteArrayOutputStream out = new ByteArrayOutputStream((int) h.size());
                    tar.copyContent(out);
                    return Optional.of(out.toByteArray());
                }
            }
        }
        return Optional.empty();
    }

    private static InputStream open(Path tgz) throws IOException {
        InputStream raw = new BufferedInputStream(Files.newInputStream(tgz), 65536);
        try {
            return new GZIPInputStream(raw, 65536) {
                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    try {
                        return super.read(b, off, len);
                    } catch (ZipException e) {
                        throw new BundleException(tgz + ": corrupt gzip data (" + e.getMessage() + ")");
                    }
                }
            };
        } catch (ZipException | java.io.EOFException e) {
            raw.close();
            throw new BundleException(tgz + ": not a gzip file");
        }
    }

    private static void mkdirs(Path root, Path dir) throws IOException {
        if (dir.equals(root)) {
            return;
        }
        if (Files.isSymbolicLink(dir)) {
            throw new BundleException(root.relativize(dir) + ": refusing to write through a link");
        }
        if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new BundleException(root.relativize(dir) + ": both a file and a directory in the bundle");
        }
        Files.createDirectories(dir);
    }

    private static void permissions(Path p, String perms) throws IOException {
        try {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(perms));
        } catch (UnsupportedOperationException notPosix) {
            // keep the defaults
        }
    }

    /** Removes what a failed extraction left: everything in {@code root}, and {@code root} if we created it. */
    private static void clean(Path root, boolean created) {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                if (!p.equals(root) || created) {
                    try {
                        Files.deleteIfExists(p);
                    } catch (DirectoryNotEmptyException ignored) {
                        // best effort
                    }
                }
            }
        } catch (IOException ignored) {
            // best effort: the original error matters more
        }
    }
}
