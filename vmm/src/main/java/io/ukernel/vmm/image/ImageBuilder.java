package io.ukernel.vmm.image;

import io.ukernel.app.Manifest;
import io.ukernel.app.bundle.BundleReader;
import io.ukernel.app.bundle.Sha256;
import io.ukernel.kernel.Version;
import io.ukernel.vmm.GuestParams;
import io.ukernel.vmm.firecracker.FirecrackerConfigFile;
import io.ukernel.vmm.guest.GuestInit;
import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * {@code ukernel pack}: writes {@code dist/NAME.img}, an initramfs (a {@code cpio} archive, uncompressed by default: under emulation the guest kernel copies 100 MiB faster than it inflates 35)
 * holding everything the guest runs — a generated {@code /init}, a jlink'ed Java runtime, the kernel's jars, the
 * host's CPython (pruned) with the shared libraries it and the JVM link, the kernel modules networking needs, and
 * the extracted bundle — plus the guest kernel beside it ({@code NAME.vmlinuz}) and, for Firecracker, the ELF
 * {@code NAME.vmlinux} and a {@code NAME.firecracker.json} config file. No root, no Docker, no shell. The image
 * is reproducible: same inputs, same bytes (fixed entry order and times, ids 0).
 *
 * <p>Layout (see docs/microvm.md):
 * <pre>
 *   /init                       generated static ELF: exec /ukernel/java/bin/java @/ukernel/java.args
 *   /ukernel/image.properties   what the image holds ({@link ImageInfo})
 *   /ukernel/java.args          the JVM's options and main class ({@link GuestInit})
 *   /ukernel/java/              the Java runtime        /ukernel/lib/*.jar   the kernel
 *   /ukernel/python/            CPython + stdlib        /ukernel/modules/    virtio modules
 *   /lib*, /usr/lib*            shared libraries        /app/                the bundle
 *   /dev/console, /proc, /sys, /tmp, /run
 * </pre>
 */
public final class ImageBuilder {
    /** The main class the guest's JVM runs. */
    public static final String MAIN_CLASS = GuestInit.class.getName();
    /** Where the bundle is extracted in the guest. */
    public static final String APP_DIR = "/app";
    /** Default entry time: 2026-01-01T00:00:00Z (like the project's jars); {@code SOURCE_DATE_EPOCH} overrides. */
    static final long DEFAULT_MTIME = 1767225600L;
    /** The JVM's options in the guest: start-up first (the guest often runs under emulation). */
    static final List<String> JVM_OPTIONS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData", "-XX:+DisableAttachMechanism", "-Xss512k", "-XX:MaxRAMPercentage=40",
            "-Xlog:cds=off", "-Xlog:aot=off", "--enable-native-access=ALL-UNNAMED",
            "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "-Dstdout.encoding=UTF-8",
            "-Dstderr.encoding=UTF-8", "-Djava.io.tmpdir=/tmp");

    /** How the archive is compressed. */
    public enum Compression {
        /** gzip, which every kernel unpacks: a third of the size. */
        GZIP,
        /** none: biggest, and the kernel only copies it (fastest to unpack under emulation). */
        NONE
    }

    /**
     * What to pack.
     *
     * @param manifest      the app's manifest
     * @param appDir        the app's directory (for {@code [caps.io]} preopened directories)
     * @param bundle        the app's {@code build/bundle.tgz}
     * @param python        the real interpreter on the host
     * @param pythonVersion its version, {@code X.Y.Z}
     * @param kernel        the guest kernel
     * @param distDir       where the image goes ({@code dist/})
     * @param compression   the archive's compression
     * @param network       whether to include the modules the network device needs
     * @param firecracker   whether to also write {@code vmlinux} and the Firecracker config file
     * @param cacheDir      where linked runtimes and extracted kernels are kept between packs
     */
    public record Inputs(Manifest manifest, Path appDir, Path bundle, Path python, String pythonVersion,
            GuestKernel kernel, Path distDir, Compression compression, boolean network, boolean firecracker,
            Path cacheDir) {
        /** With the default cache directory. */
        public static Path defaultCacheDir() {
            return ImageFiles.cacheDir();
        }
    }

    /**
     * One part of the image and its size.
     *
     * @param name       e.g. {@code java runtime}
     * @param files      entries written (directories implied)
     * @param bytes      uncompressed bytes in the archive
     * @param compressed bytes it takes in the image file
     */
    public record Part(String name, int files, long bytes, long compressed) {}

    /**
     * What was written.
     *
     * @param image             the initramfs
     * @param kernel            the guest kernel beside it (bzImage or vmlinux as found)
     * @param vmlinux           the ELF kernel for Firecracker, or null
     * @param firecrackerConfig the Firecracker config file, or null
     * @param info              the image's metadata
     * @param parts             sizes per part
     * @param warnings          things the user should know (no modules for networking, ...)
     */
    public record Result(Path image, Path kernel, Path vmlinux, Path firecrackerConfig, ImageInfo info,
            List<Part> parts, List<String> warnings) {
        /** Total bytes of the image file. */
        public long imageBytes() {
            return parts.stream().mapToLong(Part::compressed).sum();
        }

        /** Total uncompressed bytes. */
        public long unpackedBytes() {
            return parts.stream().mapToLong(Part::bytes).sum();
        }
    }

    private final Inputs in;
    private final Consumer<String> progress;
    private final List<String> warnings = new ArrayList<>();

    private ImageBuilder(Inputs in, Consumer<String> progress) {
        this.in = in;
        this.progress = progress;
    }

    /** The image's path for app {@code name}: {@code dist/NAME.img}. */
    public static Path imagePath(Path distDir, String name) {
        return distDir.resolve(name + ".img");
    }

    /**
     * Packs the image; {@code progress} receives one line per step.
     *
     * @throws ImageException with a message that says what to fix
     */
    public static Result build(Inputs in, Consumer<String> progress) throws ImageException {
        return new ImageBuilder(in, progress).build();
    }

    /** The hash the image records over the kernel's jars (an image is stale when it differs). */
    public static String jarsSha256(Path workDir) throws ImageException {
        StringBuilder b = new StringBuilder();
        for (Path j : GuestJars.locate(workDir)) {
            try {
                b.append(j.getFileName()).append(' ').append(Sha256.hex(j)).append('\n');
            } catch (IOException e) {
                throw new ImageException("cannot read " + j + ": " + e.getMessage(), e);
            }
        }
        return Sha256.hex(b.toString().getBytes(StandardCharsets.UTF_8));
    }

    private Result build() throws ImageException {
        String name = in.manifest().name();
        Path work = null;
        try {
            Files.createDirectories(in.distDir());
            work = Files.createTempDirectory("ukernel-pack-");
            step("[1/6] kernel: " + in.kernel().path() + (in.kernel().release().isEmpty() ? ""
                    : " (" + in.kernel().release() + ")"));
            List<Path> jars = GuestJars.locate(work.resolve("jars"));
            String jarsSha = jarsSha256(work.resolve("jars"));
            step("[2/6] java runtime: jdeps + jlink (cached in " + in.cacheDir() + ")");
            String modules = JavaRuntime.modules(jars);
            Path jre = JavaRuntime.link(modules, in.cacheDir());
            step("[3/6] python " + in.pythonVersion() + ": " + in.python() + " (stdlib pruned) + shared libraries (ldd)");
            PythonTree.Tree py = PythonTree.collect(in.python(), minor(in.pythonVersion()));
            List<Path> elfs = new ArrayList<>(py.elfs());
            elfs.addAll(elfsUnder(jre));
            SharedLibraries.Found libs = SharedLibraries.of(elfs, List.of(jre));
            if (!libs.missing().isEmpty()) {
                warnings.add("shared libraries not found on the host (their modules will fail to import in the "
                        + "guest): " + String.join(", ", libs.missing()));
            }
            KernelModules.Found mods = guestModules();
            step("[4/6] app: " + in.bundle() + " (precompiled for the guest)");
            Path app = work.resolve("app");
            BundleReader.extract(in.bundle(), app);
            copyPreopens(app);
            precompile(app);
            Path stage = work.resolve("stage");
            List<String> classPath = AotCache.stageJars(jars, stage, mtime());
            Path aotLog = work.resolve("aot-training.log");
            Optional<Path> aot = AotCache.get(jre, stage, classPath, JVM_OPTIONS, in.python(),
                    app.resolve("adapter/ukernel"), jarsSha + " " + mtime(), in.cacheDir(), aotLog);
            if (aot.isEmpty()) {
                warnings.add("no AOT cache for the guest JVM (its training run failed; it starts slower): "
                        + tail(aotLog));
            } else {
                step("      AOT cache for the guest JVM: " + ImageSizes.mib(Files.size(aot.get())) + " (trained once, "
                        + "kept in " + in.cacheDir() + ")");
            }
            String bundleSha = Sha256.hex(in.bundle());
            List<String> guestModules = mods.files().stream()
                    .map(f -> "/" + KernelModules.GUEST_DIR + "/" + f.getFileName()).toList();
            ImageInfo info = new ImageInfo(name, bundleSha, Version.UKERNEL, jarsSha, py.interpreter(),
                    in.pythonVersion(), in.kernel().release(), guestModules);
            Path image = imagePath(in.distDir(), name);
            step("[5/6] writing " + image + " (" + in.compression().name().toLowerCase(java.util.Locale.ROOT) + ")");
            List<Path> staged = classPath.stream().map(stage::resolve).toList();
            List<Part> parts = write(image, info, jre, staged, classPath, aot, py, libs, mods, app);
            step("[6/6] kernel files for QEMU" + (in.firecracker() ? " and Firecracker" : ""));
            Path kernelCopy = copyKernel(name);
            Path vmlinux = null;
            Path fcConfig = null;
            if (in.firecracker()) {
                vmlinux = vmlinux(name);
                fcConfig = FirecrackerConfigFile.write(in.distDir().resolve(name + ".firecracker.json"), vmlinux,
                        image, 1, 512, GuestParams.defaults());
            }
            return new Result(image, kernelCopy, vmlinux, fcConfig, info, parts, List.copyOf(warnings));
        } catch (IOException e) {
            throw new ImageException("packing failed: " + e.getMessage(), e);
        } finally {
            try {
                ImageFiles.deleteTree(work);
            } catch (IOException ignored) {
                // a leftover temporary directory is harmless
            }
        }
    }

    /**
     * The network device's modules (when the image is for networking) and {@code qemu_fw_cfg}, through which a QEMU
     * run passes the app's environment without putting it on QEMU's command line.
     */
    private KernelModules.Found guestModules() throws ImageException {
        var dir = in.kernel().modulesDir(Path.of("/lib/modules"));
        if (dir.isEmpty()) {
            warnings.add("no modules for kernel " + (in.kernel().release().isEmpty() ? "(unknown release)"
                    : in.kernel().release()) + " in /lib/modules: networking in the VM (-p) works only if the "
                    + "kernel has virtio_mmio and virtio_net built in, and an environment (-e) only if it has "
                    + "qemu_fw_cfg built in");
            return new KernelModules.Found(List.of(), List.of());
        }
        KernelModules.Found net = in.network() ? KernelModules.resolve(dir.get(), KernelModules.NETWORK)
                : new KernelModules.Found(List.of(), List.of());
        KernelModules.Found fwCfg;
        try {
            fwCfg = KernelModules.resolve(dir.get(), KernelModules.FW_CFG);
        } catch (ImageException e) {
            warnings.add(e.getMessage() + ": a QEMU run cannot pass the app's environment (-e) to the guest");
            return net;
        }
        List<Path> files = new ArrayList<>(net.files());
        fwCfg.files().stream().filter(f -> !files.contains(f)).forEach(files::add);
        List<String> builtIn = new ArrayList<>(net.builtIn());
        builtIn.addAll(fwCfg.builtIn());
        return new KernelModules.Found(files, builtIn);
    }

    private List<Part> write(Path image, ImageInfo info, Path jre, List<Path> jars, List<String> classPath,
            Optional<Path> aot, PythonTree.Tree py, SharedLibraries.Found libs, KernelModules.Found mods, Path app)
            throws IOException {
        Path tmp = image.resolveSibling(image.getFileName() + ".tmp");
        List<Part> parts = new ArrayList<>();
        try (OutputStream file = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
            Counting counted = new Counting(file);
            OutputStream compressed = in.compression() == Compression.GZIP ? new Gzip(counted) : counted;
            BufferedOutputStream buffered = new BufferedOutputStream(compressed, 1 << 16);
            Counting raw = new Counting(buffered);
            CpioWriter cpio = new CpioWriter(raw, mtime());
            PartWriter pw = new PartWriter(cpio, raw, buffered, compressed, counted, parts);

            pw.begin("init");
            cpio.file(ImageInfo.PATH, 0644, info.toBytes());
            cpio.file("init", 0755, InitElf.forCommand(List.of("/ukernel/java/bin/java", "@/ukernel/java.args")));
            cpio.file("ukernel/java.args", 0644, javaArgs(classPath, aot.isPresent()).getBytes(StandardCharsets.UTF_8));
            cpio.file("etc/hosts", 0644, "127.0.0.1\tlocalhost\n::1\tlocalhost\n".getBytes(StandardCharsets.US_ASCII));
            cpio.directory("dev", 0755);
            cpio.charDevice("dev/console", 0600, 5, 1);
            cpio.charDevice("dev/null", 0666, 1, 3);
            for (String d : List.of("proc", "sys", "tmp", "run", "root")) {
                cpio.directory(d, d.equals("tmp") ? 01777 : 0755);
            }
            pw.count(9);
            pw.end();

            pw.begin("java runtime");
            for (Path p : ImageFiles.walk(jre)) {
                String rel = jre.relativize(p).toString();
                if (rel.equals(".complete") || (aot.isPresent() && rel.equals("lib/server/classes.jsa"))) {
                    continue;               // the AOT cache holds the JDK's classes too
                }
                entry(cpio, "ukernel/java/" + rel, p);
                pw.count(1);
            }
            pw.end();

            pw.begin("kernel + AOT cache");
            for (Path j : jars) {
                cpio.file("ukernel/lib/" + j.getFileName(), 0644, j);
                pw.count(1);
            }
            if (aot.isPresent()) {
                cpio.file(AotCache.GUEST_PATH, 0644, aot.get());
                pw.count(1);
            }
            pw.end();

            pw.begin("python");
            for (PythonTree.Entry e : py.entries()) {
                if (e.data() != null) {
                    cpio.file(e.guest(), e.perm(), e.data());
                } else if (py.elfs().contains(e.source())) {
                    cpio.file(e.guest(), e.perm(), Strip.stripped(e.source(), in.cacheDir()));
                } else {
                    cpio.file(e.guest(), e.perm(), e.source());
                }
                pw.count(1);
            }
            String exe = py.interpreter().substring(py.interpreter().lastIndexOf('/') + 1);
            if (!exe.equals("python3")) {
                cpio.symlink(PythonTree.GUEST_PREFIX + "/bin/python3", exe);
                pw.count(1);
            }
            pw.end();

            pw.begin("shared libraries");
            for (Map.Entry<String, Path> e : libs.libraries().entrySet()) {
                cpio.file(e.getKey(), 0755, Strip.stripped(e.getValue(), in.cacheDir()));
                pw.count(1);
            }
            pw.end();

            if (!mods.files().isEmpty()) {
                pw.begin("kernel modules");
                for (Path m : mods.files()) {
                    cpio.file(KernelModules.GUEST_DIR + "/" + m.getFileName(), 0644, m);
                    pw.count(1);
                }
                pw.end();
            }

            pw.begin("app");
            for (Path p : ImageFiles.walk(app)) {
                entry(cpio, APP_DIR.substring(1) + "/" + app.relativize(p), p);
                pw.count(1);
            }
            // A preopen directory may be empty (an rw data directory before its first file): the walk above lists
            // files only, and the worker's view needs the directory.
            for (Manifest.Preopen p : in.manifest().preopens().values()) {
                Path dir = app.resolve(p.path()).normalize();
                if (dir.startsWith(app) && Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                    cpio.directory(APP_DIR.substring(1) + "/" + app.relativize(dir), 0755);
                }
            }
            cpio.directory(APP_DIR.substring(1), 0755);
            cpio.finish();
            pw.end();
            buffered.flush();
            compressed.close();
            long total = counted.count;
            long accounted = parts.stream().mapToLong(Part::compressed).sum();
            if (total != accounted && !parts.isEmpty()) {
                Part last = parts.removeLast();
                parts.add(new Part(last.name(), last.files(), last.bytes(), last.compressed() + total - accounted));
            }
        }
        Files.move(tmp, image, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return parts;
    }

    private static void entry(CpioWriter cpio, String guest, Path p) throws IOException {
        if (Files.isSymbolicLink(p)) {
            cpio.symlink(guest, Files.readSymbolicLink(p).toString());
        } else {
            cpio.file(guest, ImageFiles.perm(p), p);
        }
    }

    /**
     * The JVM's argument file. The class path is relative: the guest's init runs in {@code /}, and an AOT cache
     * trained on the host in a directory laid out the same way then matches it.
     */
    static String javaArgs(List<String> classPath, boolean aot) {
        StringBuilder b = new StringBuilder();
        JVM_OPTIONS.forEach(o -> b.append(o).append('\n'));
        if (aot) {
            b.append("-XX:AOTCache=").append(AotCache.GUEST_PATH).append('\n');
        }
        b.append("-cp\n");
        b.append(String.join(":", classPath)).append('\n');
        b.append(MAIN_CLASS).append('\n');
        return b.toString();
    }

    /** Copies the app's {@code [caps.io]} directories (those that exist) into the image's app directory. */
    private void copyPreopens(Path app) throws IOException {
        copyPreopens(in.manifest(), in.appDir(), app);
    }

    /** Copies {@code manifest}'s {@code [caps.io]} directories (those that exist) from {@code appDir} into {@code app}. */
    static void copyPreopens(Manifest manifest, Path appDir, Path app) throws IOException {
        for (Manifest.Preopen p : manifest.preopens().values()) {
            Path src = appDir.resolve(p.path()).normalize();
            if (!src.startsWith(appDir) || !Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            Path dst = app.resolve(p.path()).normalize();
            if (Files.exists(dst)) {
                continue;
            }
            for (Path f : ImageFiles.walk(src)) {
                if (Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
                    Path t = dst.resolve(src.relativize(f).toString());
                    Files.createDirectories(t.getParent());
                    Files.copy(f, t);
                }
            }
            Files.createDirectories(dst);
        }
    }

    /**
     * Compiles the bundle's Python for the guest with the same interpreter, as unchecked hash-based {@code .pyc}
     * files whose tracebacks name {@code /app/...}: the guest then compiles nothing at start.
     */
    private void precompile(Path app) throws ImageException {
        precompile(in.python(), app, warnings);
    }

    /** {@link #precompile(Path)} with {@code python}; a source that does not compile adds to {@code warnings}. */
    static void precompile(Path python, Path app, List<String> warnings) throws ImageException {
        List<String> cmd = List.of(python.toString(), "-I", "-S", "-m", "compileall", "-q", "-j", "1",
                "-d", APP_DIR, "--invalidation-mode", "unchecked-hash", app.toString());
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new ImageException("compiling the app's Python took over 120 s");
            }
            if (p.exitValue() != 0) {
                warnings.add("some app sources do not compile (the worker will report the error at start): "
                        + out.strip().lines().limit(3).reduce((a, b) -> a + " / " + b).orElse(""));
            }
        } catch (IOException e) {
            throw new ImageException("cannot run " + python + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ImageException("interrupted while compiling the app", e);
        }
    }

    private Path copyKernel(String name) throws IOException {
        Path dest = in.distDir().resolve(name + (in.kernel().elf() ? ".vmlinux" : ".vmlinuz"));
        if (!Files.isRegularFile(dest) || Files.mismatch(dest, in.kernel().path()) != -1) {
            Files.copy(in.kernel().path(), dest, StandardCopyOption.REPLACE_EXISTING);
        }
        return dest;
    }

    private Path vmlinux(String name) throws ImageException, IOException {
        Path dest = in.distDir().resolve(name + ".vmlinux");
        if (in.kernel().elf()) {
            return copyKernel(name);
        }
        Path cached = in.cacheDir().resolve("vmlinux-" + Sha256.hex(in.kernel().path()).substring(0, 16));
        if (!Files.isRegularFile(cached)) {
            in.kernel().extractVmlinux(cached);
        }
        Files.deleteIfExists(dest);
        try {
            Files.createLink(dest, cached);
        } catch (IOException | UnsupportedOperationException e) {
            Files.copy(cached, dest);
        }
        return dest;
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return lines.isEmpty() ? "(no output)" : lines.getLast();
        } catch (IOException e) {
            return "(no log)";
        }
    }

    private void step(String line) {
        progress.accept(line);
    }

    static long mtime() {
        String epoch = System.getenv("SOURCE_DATE_EPOCH");
        if (epoch != null && epoch.matches("\\d+")) {
            return Long.parseLong(epoch);
        }
        return DEFAULT_MTIME;
    }

    static String minor(String version) {
        String[] p = version.split("\\.");
        return p.length >= 2 ? p[0] + "." + p[1] : version;
    }

    static List<Path> elfsUnder(Path jre) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path p : ImageFiles.walk(jre)) {
            String n = p.getFileName().toString();
            if (n.endsWith(".so") || p.getParent().getFileName().toString().equals("bin")) {
                out.add(p);
            }
        }
        return out;
    }

    /** Counts bytes on their way down. */
    private static final class Counting extends FilterOutputStream {
        long count;

        Counting(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }

    /** gzip with sync flushes at part boundaries, so each part's compressed size can be measured. */
    private static final class Gzip extends GZIPOutputStream {
        Gzip(OutputStream out) throws IOException {
            super(out, 1 << 16, true);
            def.setLevel(Deflater.DEFAULT_COMPRESSION);
        }
    }

    /** Measures each part's bytes before and after compression. */
    private final class PartWriter {
        private final CpioWriter cpio;
        private final Counting raw;
        private final BufferedOutputStream buffered;
        private final OutputStream compressed;
        private final Counting counted;
        private final List<Part> parts;
        private String name;
        private int files;
        private long rawStart;
        private long compressedStart;

        PartWriter(CpioWriter cpio, Counting raw, BufferedOutputStream buffered, OutputStream compressed,
                Counting counted, List<Part> parts) {
            this.cpio = cpio;
            this.raw = raw;
            this.buffered = buffered;
            this.compressed = compressed;
            this.counted = counted;
            this.parts = parts;
        }

        void begin(String part) {
            name = part;
            files = 0;
            rawStart = raw.count;
            compressedStart = counted.count;
        }

        void count(int n) {
            files += n;
        }

        void end() throws IOException {
            buffered.flush();
            compressed.flush();
            parts.add(new Part(name, files, raw.count - rawStart, counted.count - compressedStart));
            progress.accept(String.format(java.util.Locale.ROOT, "      %-17s %6d files %9s", name, files,
                    ImageSizes.mib(raw.count - rawStart)));
            assert cpio != null;
        }
    }
}
