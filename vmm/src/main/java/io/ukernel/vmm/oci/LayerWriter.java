package io.ukernel.vmm.oci;

import io.ukernel.app.bundle.UstarHeader;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * One image layer: a POSIX tar (ustar, with a PAX header for a path or link target too long for ustar) written
 * straight into a gzip stream and a file, hashing both as it goes. Reproducible: every entry has the one mtime
 * given, the owner the caller gives (0:0 unless said otherwise) with empty owner names, no device numbers; parent
 * directories are written (0755, root) before their first entry; the gzip header has no time, no name and the
 * "unknown" OS byte, and deflate runs at a fixed level — same entries in the same order, same bytes.
 *
 * <p>The caller chooses the order; {@link #finish()} returns the layer's digest (of the gzip'd blob), diff id (of
 * the tar) and sizes.
 */
public final class LayerWriter implements AutoCloseable {
    static final int BLOCK = 512;
    /** gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS 255 (unknown). */
    private static final byte[] GZIP_HEADER = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 0, (byte) 0xff};

    /**
     * A finished layer.
     *
     * @param blob             the gzip'd tar on disk
     * @param digest           {@code sha256:...} of the blob (the manifest's layer digest)
     * @param diffId           {@code sha256:...} of the uncompressed tar (the config's rootfs diff id)
     * @param size             bytes of the blob
     * @param uncompressedSize bytes of the tar
     * @param entries          entries written, directories included
     */
    public record Layer(Path blob, String digest, String diffId, long size, long uncompressedSize, int entries) {}

    private final Path blob;
    private final long mtime;
    private final OutputStream file;
    private final MessageDigest blobSha = sha256();
    private final MessageDigest tarSha = sha256();
    private final CRC32 crc = new CRC32();
    private final Deflater deflater = new Deflater(6, true);
    private final byte[] deflateBuf = new byte[1 << 16];
    private final Set<String> dirs = new HashSet<>();
    private long tarBytes;
    private long blobBytes;
    private int entries;
    private boolean finished;

    /**
     * Starts a layer written to {@code blob}.
     *
     * @param mtime seconds since the epoch for every entry
     */
    public LayerWriter(Path blob, long mtime) throws OciException {
        this.blob = blob;
        this.mtime = mtime;
        try {
            this.file = new BufferedOutputStream(Files.newOutputStream(blob), 1 << 16);
            writeBlob(GZIP_HEADER, 0, GZIP_HEADER.length);
        } catch (IOException e) {
            throw new OciException("cannot write layer " + blob + ": " + e.getMessage(), e);
        }
    }

    /** A directory (and its parents), owned by {@code uid:gid}. */
    public void directory(String path, int mode, int uid, int gid) throws OciException {
        String p = clean(path);
        parents(p);
        if (dirs.add(p)) {
            header(p + "/", mode, uid, gid, 0, '5', null);
        }
    }

    /** A regular file with {@code content}, owned by root. */
    public void file(String path, int mode, byte[] content) throws OciException {
        String p = clean(path);
        parents(p);
        header(p, mode, 0, 0, content.length, '0', null);
        tar(content, 0, content.length);
        pad(content.length);
    }

    /** A regular file copied from {@code source}, owned by {@code uid:gid}. */
    public void file(String path, int mode, Path source, int uid, int gid) throws OciException {
        String p = clean(path);
        parents(p);
        try {
            long size = Files.size(source);
            header(p, mode, uid, gid, size, '0', null);
            long copied = 0;
            byte[] buf = new byte[1 << 16];
            try (InputStream in = Files.newInputStream(source)) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    if (copied + n > size) {
                        throw new OciException(source + " grew while it was being packed: pack again");
                    }
                    tar(buf, 0, n);
                    copied += n;
                }
            }
            if (copied != size) {
                throw new OciException(source + " shrank while it was being packed: pack again");
            }
            pad(size);
        } catch (IOException e) {
            throw new OciException("cannot read " + source + ": " + e.getMessage(), e);
        }
    }

    /** A regular file copied from {@code source}, owned by root. */
    public void file(String path, int mode, Path source) throws OciException {
        file(path, mode, source, 0, 0);
    }

    /** A symbolic link to {@code target}. */
    public void symlink(String path, String target) throws OciException {
        String p = clean(path);
        parents(p);
        header(p, 0777, 0, 0, 0, '2', target);
    }

    /** Ends the tar and the gzip stream; the layer's hashes and sizes. */
    public Layer finish() throws OciException {
        if (finished) {
            throw new IllegalStateException("layer already finished");
        }
        byte[] end = new byte[2 * BLOCK];
        tar(end, 0, end.length);
        try {
            deflater.finish();
            while (!deflater.finished()) {
                int n = deflater.deflate(deflateBuf);
                writeBlob(deflateBuf, 0, n);
            }
            byte[] trailer = new byte[8];
            le32(trailer, 0, crc.getValue());
            le32(trailer, 4, tarBytes & 0xFFFF_FFFFL);
            writeBlob(trailer, 0, 8);
            file.close();
        } catch (IOException e) {
            throw new OciException("cannot write layer " + blob + ": " + e.getMessage(), e);
        } finally {
            deflater.end();
            finished = true;
        }
        HexFormat hex = HexFormat.of();
        return new Layer(blob, "sha256:" + hex.formatHex(blobSha.digest()), "sha256:" + hex.formatHex(tarSha.digest()),
                blobBytes, tarBytes, entries);
    }

    @Override
    public void close() {
        if (!finished) {
            deflater.end();
            finished = true;
            try {
                file.close();
            } catch (IOException ignored) {
                // an abandoned layer: its file is removed by the caller
            }
        }
    }

    private void parents(String p) throws OciException {
        int slash = p.lastIndexOf('/');
        if (slash <= 0) {
            return;
        }
        String parent = p.substring(0, slash);
        if (!dirs.contains(parent)) {
            parents(parent);
            dirs.add(parent);
            header(parent + "/", 0755, 0, 0, 0, '5', null);
        }
    }

    /** Relative, no leading or trailing '/', no empty, "." or ".." component. */
    static String clean(String path) throws OciException {
        String p = path;
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (p.isEmpty()) {
            throw new OciException("empty path in a layer");
        }
        for (String c : p.split("/", -1)) {
            if (c.isEmpty() || c.equals(".") || c.equals("..")) {
                throw new OciException("bad path in a layer: " + path);
            }
        }
        return p;
    }

    private void header(String name, int mode, int uid, int gid, long size, char type, String link)
            throws OciException {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        byte[] linkBytes = link == null ? new byte[0] : link.getBytes(StandardCharsets.UTF_8);
        int split = UstarHeader.split(nameBytes);
        StringBuilder pax = new StringBuilder();
        if (split < 0) {
            pax.append(paxRecord("path", name));
        }
        if (linkBytes.length > 100) {
            pax.append(paxRecord("linkpath", link));
        }
        if (!pax.isEmpty()) {
            byte[] body = pax.toString().getBytes(StandardCharsets.UTF_8);
            String base = name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
            base = base.substring(base.lastIndexOf('/') + 1);
            byte[] paxName = ("PaxHeaders/" + base).getBytes(StandardCharsets.UTF_8);
            if (paxName.length > 100) {
                paxName = java.util.Arrays.copyOf(paxName, 100);
            }
            tar(UstarHeader.block(paxName, 0644, 0, 0, body.length, mtime, 'x', new byte[0]), 0, BLOCK);
            tar(body, 0, body.length);
            pad(body.length);
        }
        byte[] h = UstarHeader.block(split < 0 ? java.util.Arrays.copyOf(nameBytes, 100) : nameBytes, mode, uid, gid,
                size, mtime, type, linkBytes.length > 100 ? java.util.Arrays.copyOf(linkBytes, 100) : linkBytes);
        tar(h, 0, BLOCK);
        entries++;
    }

    /** A PAX record: "LEN key=value\n", LEN counting itself. */
    static String paxRecord(String key, String value) {
        int body = (" " + key + "=" + value + "\n").getBytes(StandardCharsets.UTF_8).length;
        int len = body + Integer.toString(body).length();
        if (Integer.toString(len).length() != Integer.toString(body).length()) {
            len++;
        }
        return len + " " + key + "=" + value + "\n";
    }

    private void pad(long size) throws OciException {
        int rest = (int) ((BLOCK - size % BLOCK) % BLOCK);
        if (rest > 0) {
            tar(new byte[rest], 0, rest);
        }
    }

    /** Tar bytes: hashed, counted, checksummed for gzip, deflated into the blob. */
    private void tar(byte[] b, int off, int len) throws OciException {
        tarSha.update(b, off, len);
        crc.update(b, off, len);
        tarBytes += len;
        deflater.setInput(b, off, len);
        try {
            while (!deflater.needsInput()) {
                int n = deflater.deflate(deflateBuf);
                writeBlob(deflateBuf, 0, n);
            }
        } catch (IOException e) {
            throw new OciException("cannot write layer " + blob + ": " + e.getMessage(), e);
        }
    }

    private void writeBlob(byte[] b, int off, int len) throws IOException {
        if (len > 0) {
            file.write(b, off, len);
            blobSha.update(b, off, len);
            blobBytes += len;
        }
    }

    private static void le32(byte[] b, int off, long v) {
        for (int i = 0; i < 4; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256", e);
        }
    }
}
