package io.ukernel.vmm.oci;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;

/**
 * A layer's entries, recorded before anything is compressed, so that a layer whose content did not change is
 * taken from a cache instead of being written again: its key is a SHA-256 over every entry's path, type, mode,
 * owner and content (file contents hashed, not their times), and the entries' mtime. Re-packing after a code
 * change then compresses only the layers that changed. A cached layer is the very blob {@link LayerWriter}
 * wrote for the same entries, so reproducibility does not depend on the cache.
 */
public final class LayerPlan {
    /** Bumped when {@link LayerWriter}'s output for the same entries changes. */
    static final String FORMAT = "ukernel-oci-layer 1";

    private sealed interface Op permits Dir, Bytes, FileOp, Link {}

    private record Dir(String path, int mode, int uid, int gid) implements Op {}

    private record Bytes(String path, int mode, byte[] content) implements Op {}

    private record FileOp(String path, int mode, Path source, int uid, int gid) implements Op {}

    private record Link(String path, String target) implements Op {}

    private final List<Op> ops = new ArrayList<>();

    public void directory(String path, int mode, int uid, int gid) {
        ops.add(new Dir(path, mode, uid, gid));
    }

    public void file(String path, int mode, byte[] content) {
        ops.add(new Bytes(path, mode, content));
    }

    public void file(String path, int mode, Path source, int uid, int gid) {
        ops.add(new FileOp(path, mode, source, uid, gid));
    }

    public void file(String path, int mode, Path source) {
        file(path, mode, source, 0, 0);
    }

    public void symlink(String path, String target) {
        ops.add(new Link(path, target));
    }

    /**
     * The layer at {@code blob}: from {@code cacheDir} when it holds one for the same entries, else written now
     * (and kept there). {@code cacheDir} null: always written, nothing kept.
     *
     * @return the layer, and whether it came from the cache
     */
    public Cached write(Path blob, long mtime, Path cacheDir) throws OciException {
        if (cacheDir == null) {
            return new Cached(writeNow(blob, mtime), false);
        }
        String key = key(mtime);
        Path cachedBlob = cacheDir.resolve(key + ".tar.gz");
        Path cachedInfo = cacheDir.resolve(key + ".properties");
        try {
            if (Files.isRegularFile(cachedBlob) && Files.isRegularFile(cachedInfo)) {
                Properties p = new Properties();
                try (InputStream in = Files.newInputStream(cachedInfo)) {
                    p.load(in);
                }
                if (Long.parseLong(p.getProperty("size", "-1")) == Files.size(cachedBlob)) {
                    link(cachedBlob, blob);
                    return new Cached(new LayerWriter.Layer(blob, p.getProperty("digest"), p.getProperty("diffId"),
                            Files.size(blob), Long.parseLong(p.getProperty("uncompressedSize")),
                            Integer.parseInt(p.getProperty("entries"))), true);
                }
            }
        } catch (IOException | RuntimeException e) {
            // an unreadable cache entry: write the layer anew below
        }
        LayerWriter.Layer l = writeNow(blob, mtime);
        try {
            Files.createDirectories(cacheDir);
            Path tmp = Files.createTempFile(cacheDir, key, ".tmp");
            Files.copy(blob, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, cachedBlob, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Properties p = new Properties();
            p.setProperty("digest", l.digest());
            p.setProperty("diffId", l.diffId());
            p.setProperty("size", Long.toString(l.size()));
            p.setProperty("uncompressedSize", Long.toString(l.uncompressedSize()));
            p.setProperty("entries", Integer.toString(l.entries()));
            Path info = Files.createTempFile(cacheDir, key, ".tmp");
            try (OutputStream out = Files.newOutputStream(info)) {
                p.store(out, null);
            }
            Files.move(info, cachedInfo, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            // no cache this time: the layer itself is written
        }
        return new Cached(l, false);
    }

    /**
     * A layer and where it came from.
     *
     * @param layer  the layer
     * @param cached whether it was taken from the cache
     */
    public record Cached(LayerWriter.Layer layer, boolean cached) {}

    private LayerWriter.Layer writeNow(Path blob, long mtime) throws OciException {
        try (LayerWriter w = new LayerWriter(blob, mtime)) {
            for (Op op : ops) {
                switch (op) {
                    case Dir d -> w.directory(d.path(), d.mode(), d.uid(), d.gid());
                    case Bytes b -> w.file(b.path(), b.mode(), b.content());
                    case FileOp f -> w.file(f.path(), f.mode(), f.source(), f.uid(), f.gid());
                    case Link l -> w.symlink(l.path(), l.target());
                }
            }
            return w.finish();
        }
    }

    /** The cache key: the entries, their contents and the mtime. */
    String key(long mtime) throws OciException {
        MessageDigest md = LayerWriter.sha256();
        StringBuilder b = new StringBuilder(FORMAT).append('\n').append(mtime).append('\n');
        byte[] buf = new byte[1 << 16];
        for (Op op : ops) {
            switch (op) {
                case Dir d -> b.append("d ").append(d.path()).append(' ').append(d.mode()).append(' ').append(d.uid())
                        .append(':').append(d.gid());
                case Bytes x -> b.append("b ").append(x.path()).append(' ').append(x.mode()).append(' ')
                        .append(HexFormat.of().formatHex(LayerWriter.sha256().digest(x.content())));
                case FileOp f -> {
                    MessageDigest content = LayerWriter.sha256();
                    try (InputStream in = Files.newInputStream(f.source())) {
                        int n;
                        while ((n = in.read(buf)) > 0) {
                            content.update(buf, 0, n);
                        }
                    } catch (IOException e) {
                        throw new OciException("cannot read " + f.source() + ": " + e.getMessage(), e);
                    }
                    b.append("f ").append(f.path()).append(' ').append(f.mode()).append(' ').append(f.uid())
                            .append(':').append(f.gid()).append(' ').append(HexFormat.of().formatHex(content.digest()));
                }
                case Link l -> b.append("l ").append(l.path()).append(' ').append(l.target());
            }
            b.append('\n');
            if (b.length() > 1 << 16) {
                md.update(b.toString().getBytes(StandardCharsets.UTF_8));
                b.setLength(0);
            }
        }
        md.update(b.toString().getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(md.digest());
    }

    private static void link(Path cached, Path blob) throws IOException {
        Files.deleteIfExists(blob);
        try {
            Files.createLink(blob, cached);
        } catch (IOException | UnsupportedOperationException e) {
            Files.copy(cached, blob);
        }
    }
}
