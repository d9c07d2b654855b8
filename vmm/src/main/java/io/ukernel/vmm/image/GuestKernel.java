package io.ukernel.vmm.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * The guest's Linux kernel: found ({@code --kernel}, {@code $UKERNEL_KERNEL}, else the newest
 * {@code /boot/vmlinuz-*}), inspected (a {@code bzImage}'s setup header gives its release, which names its
 * modules) and, for Firecracker, unpacked into the ELF {@code vmlinux} that released Firecracker boots on x86_64.
 *
 * @param path    the kernel file
 * @param release the kernel release ({@code uname -r}), e.g. {@code 6.1.0-56-cloud-amd64}; empty if unknown
 * @param elf     whether the file already is an ELF {@code vmlinux} (rather than a {@code bzImage})
 */
public record GuestKernel(Path path, String release, boolean elf) {
    /** Environment variable naming the guest kernel. */
    public static final String ENV = "UKERNEL_KERNEL";

    /**
     * Finds the kernel: {@code explicit} if given, else {@code $UKERNEL_KERNEL}, else the newest readable
     * {@code /boot/vmlinuz-*}.
     *
     * @throws ImageException saying what to install or set when there is none, or when it cannot be used
     */
    public static GuestKernel locate(Path explicit, Map<String, String> env, Path bootDir) throws ImageException {
        if (explicit != null) {
            return inspect(explicit, "--kernel " + explicit);
        }
        String fromEnv = env.get(ENV);
        if (fromEnv != null && !fromEnv.isBlank()) {
            return inspect(Path.of(fromEnv), ENV + "=" + fromEnv);
        }
        List<Path> candidates = List.of();
        if (Files.isDirectory(bootDir)) {
            try (Stream<Path> s = Files.list(bootDir)) {
                candidates = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-"))
                        .sorted(Comparator.comparing((Path p) -> versionKey(p.getFileName().toString())).reversed())
                        .toList();
            } catch (IOException e) {
                candidates = List.of();
            }
        }
        if (candidates.isEmpty()) {
            throw new ImageException("no guest Linux kernel: none in " + bootDir + ", no " + ENV + ", no --kernel. "
                    + "Install one (Debian/Ubuntu: `apt-get install linux-image-cloud-amd64`) or pass "
                    + "--kernel PATH / set " + ENV + " to a bzImage or vmlinux");
        }
        ImageException last = null;
        for (Path p : candidates) {
            try {
                return inspect(p, p.toString());
            } catch (ImageException e) {
                last = e;
            }
        }
        throw last;
    }

    /** Reads {@code path}'s header. */
    public static GuestKernel inspect(Path path, String source) throws ImageException {
        if (!Files.exists(path)) {
            throw new ImageException("guest kernel " + source + " does not exist");
        }
        if (!Files.isRegularFile(path)) {
            throw new ImageException("guest kernel " + source + " is not a regular file");
        }
        byte[] head;
        try (InputStream in = Files.newInputStream(path)) {
            head = in.readNBytes(0x4000);
        } catch (IOException e) {
            throw new ImageException("cannot read the guest kernel " + source + " (" + e.getMessage() + ")"
                    + (Files.isReadable(path) ? "" : "; on Ubuntu /boot/vmlinuz-* is readable by root only: "
                            + "copy it and chmod a+r, or pass --kernel"));
        }
        if (head.length >= 4 && head[0] == 0x7f && head[1] == 'E' && head[2] == 'L' && head[3] == 'F') {
            return new GuestKernel(path, releaseFromName(path), true);
        }
        if (head.length < 0x250 || !new String(head, 0x202, 4, StandardCharsets.US_ASCII).equals("HdrS")) {
            throw new ImageException("guest kernel " + source + " is neither a bzImage nor an ELF vmlinux");
        }
        int ptr = u16(head, 0x20e);
        String release = "";
        if (ptr != 0 && ptr + 0x200 < head.length) {
            int start = ptr + 0x200;
            int end = start;
            while (end < head.length && head[end] != 0 && head[end] != ' ') {
                end++;
            }
            release = new String(head, start, end - start, StandardCharsets.US_ASCII);
        }
        if (release.isEmpty()) {
            release = releaseFromName(path);
        }
        return new GuestKernel(path, release, false);
    }

    /** The modules directory of this kernel on the host, if there is one. */
    public Optional<Path> modulesDir(Path libModules) {
        if (release.isEmpty()) {
            return Optional.empty();
        }
        Path dir = libModules.resolve(release);
        return Files.isRegularFile(dir.resolve("modules.dep")) ? Optional.of(dir) : Optional.empty();
    }

    /**
     * Writes the uncompressed ELF kernel to {@code dest}: a copy when this already is one, else the bzImage's
     * payload decompressed (gzip and LZ4 in Java; xz, zstd, bzip2, lzma and lzo with the host's tool).
     *
     * @throws ImageException if the payload's format is unknown or cannot be decompressed, or is not an ELF
     */
    public void extractVmlinux(Path dest) throws ImageException {
        try {
            Files.createDirectories(dest.toAbsolutePath().getParent());
            Path tmp = dest.resolveSibling(dest.getFileName() + ".tmp");
            if (elf) {
                Files.copy(path, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            } else {
                byte[] img = Files.readAllBytes(path);
                int setupSects = img[0x1f1] & 0xff;
                int pm = ((setupSects == 0 ? 4 : setupSects) + 1) * 512;
                int version = u16(img, 0x206);
                if (version < 0x208) {
                    throw new ImageException(path + ": boot protocol " + Integer.toHexString(version)
                            + " is too old to locate the payload");
                }
                int off = pm + (int) u32(img, 0x248);
                int len = (int) u32(img, 0x24c);
                if (off < 0 || len <= 0 || off + len > img.length) {
                    throw new ImageException(path + ": payload out of bounds");
                }
                try (OutputStream out = Files.newOutputStream(tmp)) {
                    decompress(img, off, len, out);
                }
            }
            try (InputStream in = Files.newInputStream(tmp)) {
                byte[] m = in.readNBytes(4);
                if (m.length < 4 || m[0] != 0x7f || m[1] != 'E' || m[2] != 'L' || m[3] != 'F') {
                    Files.deleteIfExists(tmp);
                    throw new ImageException(path + ": the decompressed payload is not an ELF vmlinux");
                }
            }
            Files.move(tmp, dest, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new ImageException("cannot extract vmlinux from " + path + ": " + e.getMessage(), e);
        }
    }

    private void decompress(byte[] img, int off, int len, OutputStream out) throws IOException, ImageException {
        int b0 = img[off] & 0xff;
        int b1 = img[off + 1] & 0xff;
        if (b0 == 0x1f && b1 == 0x8b) {
            try (InputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(img, off, len), 1 << 16)) {
                in.transferTo(out);
            } catch (java.util.zip.ZipException e) {
                // trailing bytes after the gzip member (the appended size) are fine once the member is done
            }
            return;
        }
        if (Lz4Legacy.le32(img, off) == Lz4Legacy.MAGIC) {
            Lz4Legacy.decompress(img, off, len, out);
            return;
        }
        String tool;
        if (b0 == 0xfd && b1 == '7') {
            tool = "xz";
        } else if (b0 == 0x28 && b1 == 0xb5) {
            tool = "zstd";
        } else if (b0 == 'B' && b1 == 'Z') {
            tool = "bzip2";
        } else if (b0 == 0x5d && b1 == 0) {
            tool = "lzma";
        } else if (b0 == 0x89 && b1 == 'L') {
            tool = "lzop";
        } else {
            throw new ImageException(path + ": unknown kernel compression (payload starts " + Integer.toHexString(b0)
                    + " " + Integer.toHexString(b1) + ")");
        }
        external(tool, img, off, len, out);
    }

    private void external(String tool, byte[] img, int off, int len, OutputStream out) throws IOException,
            ImageException {
        Process p;
        try {
            p = new ProcessBuilder(tool, "-dc").redirectError(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            throw new ImageException(path + " is " + tool + "-compressed and " + tool + " is not installed: install "
                    + "it, or pass an uncompressed vmlinux with --kernel");
        }
        Thread feeder = Thread.ofVirtual().start(() -> {
            try (OutputStream in = p.getOutputStream()) {
                in.write(img, off, len);
            } catch (IOException ignored) {
                // the tool stops reading after the stream's end (the appended size is trailing garbage to it)
            }
        });
        try (InputStream from = p.getInputStream()) {
            from.transferTo(out);
        }
        try {
            feeder.join();
            p.waitFor(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
        }
    }

    private static String releaseFromName(Path p) {
        String n = p.getFileName().toString();
        for (String prefix : new String[] {"vmlinuz-", "vmlinux-"}) {
            if (n.startsWith(prefix)) {
                return n.substring(prefix.length());
            }
        }
        return "";
    }

    /** Sorts {@code vmlinuz-6.1.0-10} before {@code vmlinuz-6.1.0-9} descending, numerically. */
    private static String versionKey(String name) {
        StringBuilder b = new StringBuilder();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\d+|\\D+").matcher(name);
        while (m.find()) {
            String t = m.group();
            b.append(Character.isDigit(t.charAt(0)) ? String.format("%010d", Long.parseLong(t.length() > 9
                    ? t.substring(0, 9) : t)) : t);
        }
        return b.toString();
    }

    private static int u16(byte[] b, int i) {
        return (b[i] & 0xff) | (b[i + 1] & 0xff) << 8;
    }

    private static long u32(byte[] b, int i) {
        return Integer.toUnsignedLong(Lz4Legacy.le32(b, i));
    }
}
