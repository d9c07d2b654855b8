package io.ukernel.vmm.image;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Cap;
import io.ukernel.app.Manifest;
import io.ukernel.app.bundle.BundleReader;
import io.ukernel.app.bundle.Sha256;
import io.ukernel.kernel.Version;
import io.ukernel.vmm.container.ContainerInit;
import io.ukernel.vmm.oci.LayerPlan;
import io.ukernel.vmm.oci.LayerWriter;
import io.ukernel.vmm.oci.OciException;
import io.ukernel.vmm.oci.OciLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * {@code ukernel pack --oci}: the app as an OCI image in {@code dist/NAME.oci/} (an image layout directory), from
 * the same parts as the microVM image — the jlink'ed runtime, the host's CPython (pruned) and the shared libraries
 * it and the JVM link, the kernel's jars — with the kernel on the process platform as the entrypoint
 * ({@link ContainerInit}). Five layers, the ones that change least first, so that a change to the app's code
 * rebuilds and pushes only the last, small one:
 *
 * <ol>
 *   <li>{@code java runtime}: {@code /ukernel/java/}</li>
 *   <li>{@code python + libraries}: {@code /ukernel/python/}, and {@code /lib*}, {@code /usr/lib*}</li>
 *   <li>{@code kernel}: {@code /ukernel/lib/*.jar}, the JVM's AOT cache {@code /ukernel/kernel.aot} (trained on the
 *       host, as for the microVM), {@code /ukernel/java.args}, {@code /etc/passwd},
 *       {@code /etc/group}, {@code /tmp}, and the bundle's Python adapter {@code /app/adapter/}</li>
 *   <li>{@code dependencies}: the packages of {@code requirements.txt}, {@code /app/deps/} (empty without)</li>
 *   <li>{@code app}: the rest of the bundle in {@code /app/} (precompiled), {@code /ukernel/image.properties}</li>
 * </ol>
 *
 * No base image: nothing else is in it (no shell). It runs as {@link #DEFAULT_UID} unless told otherwise. Same
 * inputs, same digest: the layers and JSON are written reproducibly ({@link LayerWriter}, {@link OciLayout}).
 */
public final class OciPacker {
    /** The user the image runs as by default (the "nonroot" user of distroless images). */
    public static final int DEFAULT_UID = 65532;
    /** The image's JVM options: as the microVM's, but the JIT fully on (a container runs at native speed). */
    static final List<String> JVM_OPTIONS = List.of("-XX:+UseSerialGC", "-XX:-UsePerfData",
            "-XX:+DisableAttachMechanism", "-Xss512k", "-XX:MaxRAMPercentage=40", "-Xlog:cds=off", "-Xlog:aot=off",
            "--enable-native-access=ALL-UNNAMED", "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
            "-Dstdout.encoding=UTF-8", "-Dstderr.encoding=UTF-8", "-Djava.io.tmpdir=/tmp", "-Duser.home=/tmp");
    /** Where the bundle keeps the packages of {@code requirements.txt}: their own layer. */
    static final String DEPS = "deps/";
    /** The entrypoint: the image's JVM with its argument file. */
    public static final List<String> ENTRYPOINT = List.of("/ukernel/java/bin/java", "@/ukernel/java.args");

    /**
     * What to pack.
     *
     * @param manifest      the app's manifest
     * @param appDir        the app's directory (for {@code [caps.io]} preopened directories)
     * @param bundle        the app's {@code build/bundle.tgz}
     * @param python        the real interpreter on the host
     * @param pythonVersion its version, {@code X.Y.Z}
     * @param distDir       where the image goes ({@code dist/})
     * @param cacheDir      where linked runtimes are kept between packs
     * @param uid           the user (and group) the image runs as
     * @param tag           the tag recorded in the layout, e.g. {@code latest}
     * @param dockerArchive whether to also write {@code dist/NAME.docker.tar}
     * @param layerCache    whether unchanged layers may come from {@code cacheDir/oci-layers} (false: every
     *                      layer is compressed anew)
     */
    public record Inputs(Manifest manifest, Path appDir, Path bundle, Path python, String pythonVersion, Path distDir,
            Path cacheDir, int uid, String tag, boolean dockerArchive, boolean layerCache) {}

    /**
     * What was written.
     *
     * @param layout        the image layout directory
     * @param digest        the image manifest's digest (the image's identity)
     * @param layers        the layers, in order
     * @param dockerArchive the docker-archive tarball, or null
     * @param config        the image's run-time configuration
     * @param warnings      things the user should know
     */
    public record Result(Path layout, String digest, List<OciLayout.NamedLayer> layers, Path dockerArchive,
            OciLayout.Config config, List<String> warnings) {
        public long compressedBytes() {
            return layers.stream().mapToLong(l -> l.layer().size()).sum();
        }

        public long unpackedBytes() {
            return layers.stream().mapToLong(l -> l.layer().uncompressedSize()).sum();
        }
    }

    private final Inputs in;
    private final Consumer<String> progress;
    private final List<String> warnings = new ArrayList<>();

    private OciPacker(Inputs in, Consumer<String> progress) {
        this.in = in;
        this.progress = progress;
    }

    /** The layout's path for app {@code name}: {@code dist/NAME.oci}. */
    public static Path layoutPath(Path distDir, String name) {
        return distDir.resolve(name + ".oci");
    }

    /** The docker-archive's path for app {@code name}: {@code dist/NAME.docker.tar}. */
    public static Path dockerArchivePath(Path distDir, String name) {
        return distDir.resolve(name + ".docker.tar");
    }

    /**
     * Packs the image; {@code progress} receives one line per step.
     *
     * @throws ImageException with a message that says what to fix
     */
    public static Result build(Inputs in, Consumer<String> progress) throws ImageException {
        return new OciPacker(in, progress).build();
    }

    private Result build() throws ImageException {
        String name = in.manifest().name();
        long mtime = ImageBuilder.mtime();
        Path work = null;
        List<Path> blobs = new ArrayList<>();
        try {
            Files.createDirectories(in.distDir());
            work = Files.createTempDirectory("ukernel-oci-");
            List<Path> jars = GuestJars.locate(work.resolve("jars"));
            step("[1/5] java runtime: jdeps + jlink (cached in " + in.cacheDir() + ")");
            Path jre = JavaRuntime.link(JavaRuntime.modules(jars), in.cacheDir());
            step("[2/5] python " + in.pythonVersion() + ": " + in.python() + " (stdlib pruned) + shared libraries (ldd)");
            PythonTree.Tree py = PythonTree.collect(in.python(), ImageBuilder.minor(in.pythonVersion()));
            List<Path> elfs = new ArrayList<>(py.elfs());
            elfs.addAll(ImageBuilder.elfsUnder(jre));
            SharedLibraries.Found libs = SharedLibraries.of(elfs, List.of(jre));
            if (!libs.missing().isEmpty()) {
                warnings.add("shared libraries not found on the host (their modules will fail to import in the "
                        + "container): " + String.join(", ", libs.missing()));
            }
            step("[3/5] app: " + in.bundle() + " (precompiled)");
            Path app = work.resolve("app");
            BundleReader.extract(in.bundle(), app);
            ImageBuilder.copyPreopens(in.manifest(), in.appDir(), app);
            ImageBuilder.precompile(in.python(), app, warnings);
            Path layout = layoutPath(in.distDir(), name);
            step("[4/5] layers (gzip) into " + layout);
            Path blobDir = Files.createTempDirectory(in.distDir(), "." + name + ".oci-blobs-");
            blobs.add(blobDir);
            List<OciLayout.NamedLayer> layers = new ArrayList<>();
            // Unchanged layers come from here: a repack after a code change compresses only the app's layer.
            Path layerCache = in.layerCache() ? in.cacheDir().resolve("oci-layers") : null;

            {
                LayerPlan w = new LayerPlan();  // layer 1
                for (Path p : ImageFiles.walk(jre)) {
                    String rel = jre.relativize(p).toString();
                    if (!rel.equals(".complete")) {
                        entry(w, "ukernel/java/" + rel, p, 0);
                    }
                }
                layers.add(done("java runtime", w, blobDir.resolve("1"), mtime, layerCache));
            }
            {
                LayerPlan w = new LayerPlan();  // layer 2
                for (PythonTree.Entry e : py.entries()) {
                    if (e.data() != null) {
                        w.file(e.guest(), e.perm(), e.data());
                    } else if (py.elfs().contains(e.source())) {
                        w.file(e.guest(), e.perm(), Strip.stripped(e.source(), in.cacheDir()));
                    } else {
                        w.file(e.guest(), e.perm(), e.source());
                    }
                }
                String exe = py.interpreter().substring(py.interpreter().lastIndexOf('/') + 1);
                if (!exe.equals("python3")) {
                    w.symlink(PythonTree.GUEST_PREFIX + "/bin/python3", exe);
                }
                for (Map.Entry<String, Path> e : libs.libraries().entrySet()) {
                    w.file(e.getKey(), 0755, Strip.stripped(e.getValue(), in.cacheDir()));
                }
                layers.add(done("python + libraries", w, blobDir.resolve("2"), mtime, layerCache));
            }
            // The class path is relative to the image's working directory, /: an AOT cache trained on the host in a
            // directory laid out the same way (jars with the image's mtime) then matches it, as for the microVM.
            Path stage = work.resolve("stage");
            List<String> classPath = AotCache.stageJars(jars, stage, mtime);
            Path aotLog = work.resolve("aot-training.log");
            java.util.Optional<Path> aot = AotCache.get(jre, stage, classPath, JVM_OPTIONS, in.python(),
                    app.resolve("adapter/ukernel"), ImageBuilder.jarsSha256(work.resolve("j1")) + " " + mtime + " oci",
                    in.cacheDir(), aotLog);
            if (aot.isEmpty()) {
                warnings.add("no AOT cache for the image's JVM (its training run failed; it starts slower): "
                        + lastLine(aotLog));
            }
            {
                LayerPlan w = new LayerPlan();  // layer 3
                w.directory("tmp", 01777, 0, 0);
                w.file("etc/passwd", 0644, passwd().getBytes(StandardCharsets.UTF_8));
                w.file("etc/group", 0644, group().getBytes(StandardCharsets.UTF_8));
                for (String cp : classPath) {
                    w.file(cp, 0644, stage.resolve(cp));
                }
                if (aot.isPresent()) {
                    w.file(AotCache.GUEST_PATH, 0644, aot.get());
                }
                w.file("ukernel/java.args", 0644, javaArgs(classPath, aot.isPresent()).getBytes(StandardCharsets.UTF_8));
                for (Path p : ImageFiles.walk(app)) {
                    String rel = app.relativize(p).toString();
                    if (rel.startsWith("adapter/")) {
                        entry(w, "app/" + rel, p, 0);
                    }
                }
                layers.add(done("kernel", w, blobDir.resolve("3"), mtime, layerCache));
            }
            {
                LayerPlan w = new LayerPlan();  // layer 4
                for (Path p : ImageFiles.walk(app)) {
                    String rel = app.relativize(p).toString();
                    if (rel.startsWith(DEPS)) {
                        entry(w, "app/" + rel, p, 0);
                    }
                }
                layers.add(done("dependencies", w, blobDir.resolve("4"), mtime, layerCache));
            }
            String bundleSha = Sha256.hex(in.bundle());
            ImageInfo info = new ImageInfo(name, bundleSha, Version.UKERNEL, ImageBuilder.jarsSha256(work.resolve("j2")),
                    py.interpreter(), in.pythonVersion(), "", List.of());
            {
                LayerPlan w = new LayerPlan();  // layer 5
                w.file(ImageInfo.PATH, 0644, info.toBytes());
                w.directory("app", 0755, 0, 0);
                TreeSet<String> writable = new TreeSet<>();
                for (Manifest.Preopen p : in.manifest().preopens().values()) {
                    if (p.writable()) {
                        writable.add(app.resolve(p.path()).normalize().toString());
                    }
                }
                for (String d : writable) {
                    Path dir = Path.of(d);
                    if (dir.startsWith(app) && !dir.equals(app) && Files.isDirectory(dir)) {
                        w.directory("app/" + app.relativize(dir), 0755, in.uid(), in.uid());
                    }
                }
                for (Path p : ImageFiles.walk(app)) {
                    String rel = app.relativize(p).toString();
                    if (!rel.startsWith("adapter/") && !rel.startsWith(DEPS)) {
                        boolean own = writable.stream().anyMatch(d -> p.startsWith(Path.of(d)));
                        entry(w, "app/" + rel, p, own ? in.uid() : 0);
                    }
                }
                layers.add(done("app", w, blobDir.resolve("5"), mtime, null));
            }
            OciLayout.Config config = config(info, mtime);
            step("[5/5] image layout " + layout + (in.dockerArchive() ? " and docker-archive" : ""));
            OciLayout.Written written = OciLayout.write(layout, layers, config, in.tag());
            List<OciLayout.NamedLayer> moved = new ArrayList<>();
            for (OciLayout.NamedLayer l : layers) {
                LayerWriter.Layer x = l.layer();
                moved.add(new OciLayout.NamedLayer(l.name(), new LayerWriter.Layer(layout.resolve("blobs/sha256/"
                        + x.digest().substring(7)), x.digest(), x.diffId(), x.size(), x.uncompressedSize(), x.entries())));
            }
            Path archive = null;
            if (in.dockerArchive()) {
                archive = dockerArchivePath(in.distDir(), name);
                OciLayout.dockerArchive(layout, written, moved, name + ":" + in.tag(), archive, mtime);
            }
            return new Result(layout, written.manifestDigest(), moved, archive, config, List.copyOf(warnings));
        } catch (OciException e) {
            throw new ImageException(e.getMessage(), e);
        } catch (IOException e) {
            throw new ImageException("packing the OCI image failed: " + e.getMessage(), e);
        } finally {
            try {
                ImageFiles.deleteTree(work);
                for (Path b : blobs) {
                    ImageFiles.deleteTree(b);
                }
            } catch (IOException ignored) {
                // leftover temporary files are harmless
            }
        }
    }

    private OciLayout.NamedLayer done(String name, LayerPlan plan, Path blob, long mtime, Path cache)
            throws OciException {
        LayerPlan.Cached c = plan.write(blob, mtime, cache);
        LayerWriter.Layer l = c.layer();
        progress.accept(String.format(java.util.Locale.ROOT, "      %-20s %6d entries %9s -> %9s%s", name, l.entries(),
                ImageSizes.mib(l.uncompressedSize()), ImageSizes.mib(l.size()), c.cached() ? " (unchanged: cached)" : ""));
        return new OciLayout.NamedLayer(name, l);
    }

    private static void entry(LayerPlan w, String guest, Path p, int uid) throws IOException {
        if (Files.isSymbolicLink(p)) {
            w.symlink(guest, Files.readSymbolicLink(p).toString());
        } else {
            w.file(guest, ImageFiles.perm(p), p, uid, uid);
        }
    }

    /** The image's run-time configuration: user, environment, entrypoint, ports and labels. */
    private OciLayout.Config config(ImageInfo info, long mtime) {
        Manifest m = in.manifest();
        List<String> env = List.of("PATH=/ukernel/java/bin:/ukernel/python/bin:/usr/bin:/bin", "LANG=C.UTF-8");
        return new OciLayout.Config(in.uid() + ":" + in.uid(), env, ENTRYPOINT, List.of(), "/",
                exposedPorts(m), labels(m, info), Instant.ofEpochSecond(mtime).toString());
    }

    /** The labels: title, version, ABI, bundle hash and the policy summary. */
    static Map<String, String> labels(Manifest m, ImageInfo info) {
        Map<String, String> l = new LinkedHashMap<>();
        l.put("org.opencontainers.image.title", m.name());
        l.put("org.opencontainers.image.version", info.bundleSha256().substring(0, 12));
        l.put("io.ukernel.version", info.ukernelVersion());
        l.put("io.ukernel.abi", Abi.VERSION_MAJOR + "." + Abi.VERSION_MINOR);
        l.put("io.ukernel.bundle.sha256", info.bundleSha256());
        l.put("io.ukernel.python", info.pythonVersion());
        l.put("io.ukernel.policy", policySummary(m));
        return l;
    }

    /** One line: what the app may do, as the manifest grants it. */
    public static String policySummary(Manifest m) {
        StringBuilder b = new StringBuilder("caps=").append(Cap.format(m.caps()));
        if (!m.net().bind().isEmpty()) {
            b.append("; net.bind=").append(String.join(",", m.net().bind()));
        }
        if (!m.net().connect().isEmpty()) {
            b.append("; net.connect=").append(String.join(",", m.net().connect()));
        }
        if (!m.preopens().isEmpty()) {
            b.append("; io=");
            b.append(String.join(",", m.preopens().values().stream().sorted(java.util.Comparator.comparing(
                    Manifest.Preopen::name)).map(p -> p.name() + ":" + p.path() + (p.writable() ? ":rw" : ":ro"))
                    .toList()));
        }
        b.append("; sandbox=").append(m.sandbox().mode().text()).append(", namespaces=")
                .append(m.sandbox().namespaces().text());
        return b.toString();
    }

    /**
     * {@code PORT/tcp} for each bind pattern with a fixed port ({@code 0.0.0.0:8080}), {@code PORT/udp} for a UDP
     * one ({@code udp:0.0.0.0:5353}); wildcards give none.
     */
    public static List<String> exposedPorts(Manifest m) {
        TreeSet<Integer> tcp = new TreeSet<>();
        TreeSet<Integer> udp = new TreeSet<>();
        for (String bind : m.net().bind()) {
            int colon = bind.lastIndexOf(':');
            String port = colon < 0 ? "" : bind.substring(colon + 1);
            if (port.matches("\\d{1,5}") && Integer.parseInt(port) > 0 && Integer.parseInt(port) < 65536) {
                (bind.startsWith("udp:") ? udp : tcp).add(Integer.parseInt(port));
            }
        }
        List<String> out = new java.util.ArrayList<>(tcp.stream().map(p -> p + "/tcp").toList());
        udp.forEach(p -> out.add(p + "/udp"));
        return List.copyOf(out);
    }

    static String javaArgs(List<String> classPath, boolean aot) {
        StringBuilder b = new StringBuilder();
        JVM_OPTIONS.forEach(o -> b.append(o).append('\n'));
        if (aot) {
            b.append("-XX:AOTCache=").append(AotCache.GUEST_PATH).append('\n');
        }
        b.append("-cp\n").append(String.join(":", classPath)).append('\n');
        b.append(ContainerInit.class.getName()).append('\n');
        return b.toString();
    }

    private static String lastLine(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return lines.isEmpty() ? "(no output)" : lines.getLast();
        } catch (IOException e) {
            return "(no log)";
        }
    }

    private String passwd() {
        return "root:x:0:0:root:/root:/sbin/nologin\n" + (in.uid() == 0 ? "" : "nonroot:x:" + in.uid() + ":"
                + in.uid() + ":nonroot:/tmp:/sbin/nologin\n");
    }

    private String group() {
        return "root:x:0:\n" + (in.uid() == 0 ? "" : "nonroot:x:" + in.uid() + ":\n");
    }

    private void step(String line) {
        progress.accept(line);
    }
}
