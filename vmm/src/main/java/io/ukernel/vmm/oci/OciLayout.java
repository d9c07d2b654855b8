package io.ukernel.vmm.oci;

import io.ukernel.app.json.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * An OCI image layout directory (image-spec v1.1: {@code oci-layout}, {@code index.json}, {@code blobs/sha256/})
 * holding one linux/amd64 image: its config, its manifest and its gzip'd layers; and the same image as a
 * {@code docker-archive} tarball ({@code docker load}, {@code podman load}, {@code skopeo copy docker-archive:}).
 * JSON is written with a fixed key order and no timestamps other than the one given: same layers and config, same
 * digests.
 */
public final class OciLayout {
    public static final String MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String MEDIA_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json";
    public static final String MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

    /**
     * The image's run-time configuration.
     *
     * @param user         {@code uid:gid} the entrypoint runs as
     * @param env          {@code KEY=VALUE} variables
     * @param entrypoint   the command
     * @param cmd          its default arguments
     * @param workingDir   absolute
     * @param exposedPorts e.g. {@code 8007/tcp}
     * @param labels       annotations of the image (also put on the manifest)
     * @param created      RFC 3339 time (fixed, for reproducibility)
     */
    public record Config(String user, List<String> env, List<String> entrypoint, List<String> cmd, String workingDir,
            List<String> exposedPorts, Map<String, String> labels, String created) {}

    /**
     * A named layer, for history and reporting.
     *
     * @param name  e.g. {@code java runtime}
     * @param layer the written layer
     */
    public record NamedLayer(String name, LayerWriter.Layer layer) {}

    /**
     * What was written.
     *
     * @param dir            the layout directory
     * @param manifestDigest {@code sha256:...} of the image manifest: the image's identity
     * @param configDigest   {@code sha256:...} of the config
     * @param manifestSize   bytes of the manifest
     */
    public record Written(Path dir, String manifestDigest, String configDigest, long manifestSize) {}

    private OciLayout() {}

    /**
     * Writes the layout at {@code dir}, replacing what was there; the layers' blobs are moved in. {@code ref} is the
     * tag recorded in {@code index.json} ({@code org.opencontainers.image.ref.name}), e.g. {@code latest}.
     */
    public static Written write(Path dir, List<NamedLayer> layers, Config config, String ref) throws OciException {
        try {
            Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
            deleteTree(tmp);
            Path blobs = tmp.resolve("blobs/sha256");
            Files.createDirectories(blobs);
            for (NamedLayer l : layers) {
                Path dest = blobs.resolve(hex(l.layer().digest()));
                if (!Files.exists(dest)) {
                    Files.move(l.layer().blob(), dest, StandardCopyOption.REPLACE_EXISTING);
                } else {
                    Files.delete(l.layer().blob());
                }
            }
            byte[] configJson = configJson(layers, config);
            String configDigest = digest(configJson);
            Files.write(blobs.resolve(hex(configDigest)), configJson);
            byte[] manifest = manifestJson(layers, configDigest, configJson.length, config.labels());
            String manifestDigest = digest(manifest);
            Files.write(blobs.resolve(hex(manifestDigest)), manifest);
            Map<String, Object> desc = new LinkedHashMap<>();
            desc.put("mediaType", MEDIA_MANIFEST);
            desc.put("digest", manifestDigest);
            desc.put("size", manifest.length);
            desc.put("annotations", Map.of("org.opencontainers.image.ref.name", ref));
            desc.put("platform", platform());
            Map<String, Object> index = new LinkedHashMap<>();
            index.put("schemaVersion", 2);
            index.put("mediaType", MEDIA_INDEX);
            index.put("manifests", List.of(desc));
            Files.writeString(tmp.resolve("index.json"), Json.write(index), StandardCharsets.UTF_8);
            Files.writeString(tmp.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}",
                    StandardCharsets.UTF_8);
            deleteTree(dir);
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            return new Written(dir, manifestDigest, configDigest, manifest.length);
        } catch (IOException e) {
            throw new OciException("cannot write the image layout " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes the image of layout {@code dir} as a {@code docker-archive} tarball at {@code tarball}: Docker's
     * {@code manifest.json} naming the config and the (gzip'd) layers, which {@code docker load} accepts as they are.
     *
     * @param repoTag e.g. {@code hello:latest}
     */
    public static void dockerArchive(Path dir, Written written, List<NamedLayer> layers, String repoTag, Path tarball,
            long mtime) throws OciException {
        Path tmp = tarball.resolveSibling(tarball.getFileName() + ".tmp");
        Path blobs = dir.resolve("blobs/sha256");
        try {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("Config", "blobs/sha256/" + hex(written.configDigest()));
            m.put("RepoTags", List.of(repoTag));
            List<String> files = new ArrayList<>();
            for (NamedLayer l : layers) {
                files.add("blobs/sha256/" + hex(l.layer().digest()));
            }
            m.put("Layers", files);
            // An uncompressed tar holding the blobs as files; the LayerWriter's tar, without gzip, would do, but
            // docker-archive is read by docker/podman/skopeo either way, and a plain tar is what they write.
            try (OutputStream out = Files.newOutputStream(tmp)) {
                PlainTar t = new PlainTar(out, mtime);
                t.file("blobs/sha256/" + hex(written.configDigest()), blobs.resolve(hex(written.configDigest())));
                for (NamedLayer l : layers) {
                    t.file("blobs/sha256/" + hex(l.layer().digest()), blobs.resolve(hex(l.layer().digest())));
                }
                t.file("manifest.json", Json.write(List.of(m)).getBytes(StandardCharsets.UTF_8));
                t.finish();
            }
            Files.move(tmp, tarball, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new OciException("cannot write " + tarball + ": " + e.getMessage(), e);
        }
    }

    private static byte[] configJson(List<NamedLayer> layers, Config c) {
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("User", c.user());
        if (!c.exposedPorts().isEmpty()) {
            Map<String, Object> ports = new TreeMap<>();
            c.exposedPorts().forEach(p -> ports.put(p, Map.of()));
            cfg.put("ExposedPorts", ports);
        }
        cfg.put("Env", c.env());
        cfg.put("Entrypoint", c.entrypoint());
        cfg.put("Cmd", c.cmd());
        cfg.put("WorkingDir", c.workingDir());
        cfg.put("Labels", new TreeMap<>(c.labels()));
        cfg.put("StopSignal", "SIGTERM");
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("created", c.created());
        root.put("architecture", "amd64");
        root.put("os", "linux");
        root.put("config", cfg);
        Map<String, Object> rootfs = new LinkedHashMap<>();
        rootfs.put("type", "layers");
        rootfs.put("diff_ids", layers.stream().map(l -> l.layer().diffId()).toList());
        root.put("rootfs", rootfs);
        List<Object> history = new ArrayList<>();
        for (NamedLayer l : layers) {
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("created", c.created());
            h.put("created_by", "ukernel pack --oci: " + l.name());
            history.add(h);
        }
        root.put("history", history);
        return Json.write(root).getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] manifestJson(List<NamedLayer> layers, String configDigest, long configSize,
            Map<String, String> annotations) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("schemaVersion", 2);
        m.put("mediaType", MEDIA_MANIFEST);
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("mediaType", MEDIA_CONFIG);
        cfg.put("digest", configDigest);
        cfg.put("size", configSize);
        m.put("config", cfg);
        List<Object> ls = new ArrayList<>();
        for (NamedLayer l : layers) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("mediaType", MEDIA_LAYER);
            d.put("digest", l.layer().digest());
            d.put("size", l.layer().size());
            ls.add(d);
        }
        m.put("layers", ls);
        m.put("annotations", new TreeMap<>(annotations));
        return Json.write(m).getBytes(StandardCharsets.UTF_8);
    }

    private static Map<String, Object> platform() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("architecture", "amd64");
        p.put("os", "linux");
        return p;
    }

    /** {@code sha256:HEX} of {@code bytes}. */
    public static String digest(byte[] bytes) {
        MessageDigest md = LayerWriter.sha256();
        return "sha256:" + HexFormat.of().formatHex(md.digest(bytes));
    }

    static String hex(String digest) {
        return digest.substring(digest.indexOf(':') + 1);
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** An uncompressed ustar of a few short-named files (the docker-archive's container). */
    private static final class PlainTar {
        private final OutputStream out;
        private final long mtime;

        PlainTar(OutputStream out, long mtime) {
            this.out = out;
            this.mtime = mtime;
        }

        void file(String name, Path src) throws IOException {
            long size = Files.size(src);
            header(name, size);
            try (var in = Files.newInputStream(src)) {
                in.transferTo(out);
            }
            pad(size);
        }

        void file(String name, byte[] content) throws IOException {
            header(name, content.length);
            out.write(content);
            pad(content.length);
        }

        void finish() throws IOException {
            out.write(new byte[2 * LayerWriter.BLOCK]);
        }

        private void header(String name, long size) throws IOException {
            byte[] h = new byte[LayerWriter.BLOCK];
            byte[] n = name.getBytes(StandardCharsets.UTF_8);
            System.arraycopy(n, 0, h, 0, n.length);
            octal(h, 100, 8, 0644);
            octal(h, 108, 8, 0);
            octal(h, 116, 8, 0);
            octal(h, 124, 12, size);
            octal(h, 136, 12, mtime);
            h[156] = '0';
            System.arraycopy("ustar\0".getBytes(StandardCharsets.US_ASCII), 0, h, 257, 6);
            h[263] = '0';
            h[264] = '0';
            for (int i = 148; i < 156; i++) {
                h[i] = ' ';
            }
            long sum = 0;
            for (byte b : h) {
                sum += b & 0xff;
            }
            System.arraycopy("%06o\0 ".formatted(sum).getBytes(StandardCharsets.US_ASCII), 0, h, 148, 8);
            out.write(h);
        }

        private void pad(long size) throws IOException {
            int rest = (int) ((LayerWriter.BLOCK - size % LayerWriter.BLOCK) % LayerWriter.BLOCK);
            out.write(new byte[rest]);
        }

        private static void octal(byte[] h, int off, int len, long value) {
            String s = Long.toOctalString(value);
            String padded = "0".repeat(len - 1 - s.length()) + s;
            System.arraycopy(padded.getBytes(StandardCharsets.US_ASCII), 0, h, off, len - 1);
        }
    }
}
