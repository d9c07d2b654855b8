package io.ukernel.cli;

import io.ukernel.app.Manifest;
import io.ukernel.app.ManifestException;
import io.ukernel.vmm.image.GuestKernel;
import io.ukernel.vmm.image.ImageBuilder;
import io.ukernel.vmm.image.ImageException;
import io.ukernel.vmm.image.ImageInfo;
import io.ukernel.vmm.image.ImageSizes;
import io.ukernel.vmm.image.OciPacker;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ukernel pack [DIR]}: the bootable microVM image {@code dist/NAME.img} and the kernel files beside it. */
@Command(
        name = "pack",
        header = "Pack the app into a bootable microVM image, dist/NAME.img (or, with --oci, an OCI image).",
        mixinStandardHelpOptions = true,
        description = {
            "Pack the app into a bootable microVM image, dist/NAME.img: an initramfs holding the kernel (a jlink'ed "
                    + "Java runtime and the kernel's jars, started as PID 1), the host's CPython with its standard "
                    + "library pruned and the shared libraries it needs, the virtio modules for networking, and the "
                    + "app's bundle. Builds the bundle first when a source changed. No root, no Docker; the same "
                    + "inputs give the same bytes.",
            "",
            "Beside the image: the guest kernel (NAME.vmlinuz) for QEMU, and for Firecracker the uncompressed "
                    + "NAME.vmlinux and NAME.firecracker.json (firecracker --config-file). The guest kernel is "
                    + "--kernel, else $UKERNEL_KERNEL, else the newest /boot/vmlinuz-*.",
            "",
            "With --oci: an OCI image layout, dist/NAME.oci/ (and with --docker-archive dist/NAME.docker.tar), for "
                    + "runc, Podman, Docker, containerd and Kubernetes: five gzip'd layers (Java runtime; CPython "
                    + "and shared libraries; kernel jars and adapter; requirements.txt packages; the app), so a code change rebuilds only the "
                    + "last (unchanged layers come from a cache). The kernel runs on the process platform inside it, as uid "
                    + "65532 unless --user. No "
                    + "root, no Docker; the same inputs give the same digest. See docs/deploy.md."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel pack                          pack the app in the current directory",
            "  ukernel pack examples/hello --kernel ~/vmlinux-6.1",
            "  ukernel run --vmm qemu                pack when stale, then boot under QEMU microvm",
            "  ukernel pack --snapshot               also save the booted VM: run --vmm qemu restores it",
            "  ukernel pack --oci                    OCI image in dist/NAME.oci (then: skopeo inspect oci:dist/NAME.oci)",
            "  ukernel pack --oci --docker-archive   also dist/NAME.docker.tar (docker load -i / podman load -i)"
        })
public final class PackCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR", description = "The app directory (default: .)")
    Path dir = Path.of(".");

    @Option(names = "--kernel", paramLabel = "PATH",
            description = "The guest Linux kernel (bzImage or ELF vmlinux). Default: $UKERNEL_KERNEL, else the "
                    + "newest /boot/vmlinuz-*.")
    Path kernel;

    @Option(names = "--compress", paramLabel = "KIND", defaultValue = "none",
            description = "none (default: the guest kernel only copies it, fastest under emulation) or gzip (a third of the size, to ship or store).")
    String compress;

    @Option(names = "--no-firecracker", description = "Skip NAME.vmlinux and NAME.firecracker.json.")
    boolean noFirecracker;

    @Option(names = "--oci", description = "Write an OCI image layout dist/NAME.oci/ instead of the microVM image.")
    boolean oci;

    @Option(names = "--docker-archive", description = "With --oci: also dist/NAME.docker.tar, for docker load -i.")
    boolean dockerArchive;

    @Option(names = "--tag", paramLabel = "TAG", defaultValue = "latest",
            description = "With --oci: the tag in the layout's index (oci:dist/NAME.oci:TAG). Default: ${DEFAULT-VALUE}.")
    String tag;

    @Option(names = "--user", paramLabel = "UID", defaultValue = "65532",
            description = "With --oci: the uid (and gid) the image runs as. Default: ${DEFAULT-VALUE} (not root).")
    int user;

    @Option(names = "--no-layer-cache", description = "With --oci: compress every layer anew (by default a layer "
            + "whose files did not change comes from the cache, byte for byte the same).")
    boolean noLayerCache;

    @Option(names = {"-q", "--quiet"}, description = "Print only the summary line.")
    boolean quiet;

    @Option(names = "--snapshot", description = "Then boot the image to the kernel's snapshot point and save the "
            + "VM beside it (QEMU: dist/NAME.snap; Firecracker: dist/NAME.fc.vmstate + .fc.mem): `run --vmm` restores "
            + "it instead of booting (1 vCPU, 512 MiB, as run's defaults; see docs/microvm.md).")
    boolean snapshot;

    @Option(names = "--vmm", paramLabel = "VMM", defaultValue = "qemu",
            description = "With --snapshot: qemu (default) or firecracker.")
    String vmm;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path app = dir.toAbsolutePath().normalize();
        if (oci && snapshot) {
            throw new UserError("--snapshot saves a microVM; an OCI image has none: drop --oci or --snapshot");
        }
        if (oci) {
            OciPacker.Result r = packOci(app, tag, user, dockerArchive, !noLayerCache, quiet ? null : out);
            out.println(ociSummaryLine(r));
            if (!quiet) {
                printOciTable(out, r);
            }
            out.flush();
            return 0;
        }
        if (dockerArchive || !tag.equals("latest") || user != OciPacker.DEFAULT_UID || noLayerCache) {
            throw new UserError("--docker-archive, --tag, --user and --no-layer-cache apply to an OCI image: add --oci");
        }
        ImageBuilder.Compression compression = switch (compress.toLowerCase(Locale.ROOT)) {
            case "gzip" -> ImageBuilder.Compression.GZIP;
            case "none" -> ImageBuilder.Compression.NONE;
            default -> throw new UserError("--compress must be gzip or none, got \"" + compress + "\"");
        };
        io.ukernel.vmm.spi.Snapshots qemu = null;
        if (!vmm.equals("qemu") && !vmm.equals("firecracker")) {
            throw new UserError("--vmm must be qemu or firecracker, got \"" + vmm + "\"");
        }
        if (!snapshot && !vmm.equals("qemu")) {
            throw new UserError("--vmm chooses the VMM a snapshot is made with: add --snapshot");
        }
        if (snapshot) {
            try {
                if (vmm.equals("firecracker")) {
                    if (noFirecracker) {
                        throw new UserError("--snapshot --vmm firecracker needs NAME.vmlinux: drop --no-firecracker");
                    }
                    var f = new io.ukernel.vmm.firecracker.FirecrackerBackend(System.getenv(),
                            java.time.Duration.ofSeconds(5));
                    f.locate();                 // before packing for nothing
                    qemu = f;
                } else {
                    var q = new io.ukernel.vmm.qemu.QemuMicrovmBackend(System.getenv(),
                            ImageBuilder.Inputs.defaultCacheDir());
                    q.locate();
                    qemu = q;
                }
            } catch (io.ukernel.vmm.VmmException e) {
                throw new UserError(e.getMessage(), e);
            }
        }
        ImageBuilder.Result r = pack(app, kernel, compression, !noFirecracker, quiet ? null : out);
        out.println(summaryLine(r));
        if (!quiet) {
            printTable(out, r);
        }
        out.flush();
        if (qemu != null) {
            snapshot(qemu, app, r.info().app(), quiet ? null : out);
        }
        return 0;
    }

    /** Boots the packed image to its snapshot point and saves it ({@code dist/NAME.snap}); prints one line. */
    private void snapshot(io.ukernel.vmm.spi.Snapshots backend, Path app, String name, PrintWriter out)
            throws Exception {
        PrintWriter o = spec.commandLine().getOut();
        boolean firecracker = backend instanceof io.ukernel.vmm.firecracker.FirecrackerBackend;
        String vmmName = firecracker ? "Firecracker" : "QEMU";
        Path dist = app.resolve("dist");
        Path img = ImageBuilder.imagePath(dist, name);
        Path k = firecracker || !Files.isRegularFile(dist.resolve(name + ".vmlinuz")) ? dist.resolve(name + ".vmlinux")
                : dist.resolve(name + ".vmlinuz");
        String kernelEnv = System.getenv(GuestKernel.ENV);
        if (kernelEnv != null && !kernelEnv.isBlank() && !firecracker) {
            k = Path.of(kernelEnv);             // as `run --vmm qemu` picks it
        }
        Path runDir = Files.createTempDirectory("ukvm-");
        long t0 = System.nanoTime();
        try {
            io.ukernel.vmm.VmSpec vm = new io.ukernel.vmm.VmSpec(name, k, java.util.Optional.of(img),
                    java.util.Optional.empty(), 1, 512, java.util.List.of(), io.ukernel.vmm.GuestParams.defaults()
                    .withNet(MicrovmRun.net(firecracker, false, System.getenv())), runDir);
            if (out != null) {
                out.println("Booting " + name + " under " + vmmName + " to its snapshot point...");
                out.flush();
            }
            Path snap = backend.snapshot(vm, dist, new io.ukernel.vmm.spi.ConsoleListener() {
                @Override
                public void guest(String line) {
                    if (out != null) {
                        out.println("  " + line);
                        out.flush();
                    }
                }

                @Override
                public void vmm(String line) {
                    if (out != null) {
                        out.println("  " + vmmName.toLowerCase(Locale.ROOT) + ": " + line);
                        out.flush();
                    }
                }
            }, 600);
            long size = Files.size(snap);
            String shown = InitCommand.display(snap);
            if (firecracker) {
                Path mem = io.ukernel.vmm.firecracker.FirecrackerBackend.memoryFile(dist, name);
                size += Files.size(mem);
                shown += " + " + InitCommand.display(mem);
            }
            o.println(String.format(Locale.ROOT, "Snapshot of %s: %s (%s for 512 MiB of guest memory, %.1f s)", name,
                    shown, ImageSizes.mib(size), (System.nanoTime() - t0) / 1e9));
            o.flush();
        } catch (io.ukernel.vmm.VmmException e) {
            throw new UserError("no snapshot: " + e.getMessage(), e);
        } finally {
            try (var w = Files.walk(runDir)) {
                for (Path p : w.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /**
     * Builds when stale, then packs; progress goes to {@code out} (null: silent).
     *
     * @throws UserError       for anything the user must fix (no kernel, no python3, ...)
     * @throws ManifestException if the manifest is invalid
     */
    static ImageBuilder.Result pack(Path app, Path kernelOption, ImageBuilder.Compression compression,
            boolean firecracker, PrintWriter out) throws UserError, ManifestException {
        requireApp(app);
        PrintWriter progress = out != null ? out : new PrintWriter(java.io.Writer.nullWriter());
        BuildCommand.Result build = BuildCommand.buildIfStale(app, progress);
        try {
            GuestKernel k = GuestKernel.locate(kernelOption, System.getenv(), Path.of("/boot"));
            ImageBuilder.Inputs in = new ImageBuilder.Inputs(build.manifest(), app, build.bundle().path(),
                    build.runtime().executable(), build.runtime().version(), k, app.resolve("dist"), compression,
                    true, firecracker, ImageBuilder.Inputs.defaultCacheDir());
            if (out != null) {
                out.println("Packing " + build.manifest().name() + " into " + InitCommand.display(
                        ImageBuilder.imagePath(app.resolve("dist"), build.manifest().name())) + "...");
                out.flush();
            }
            return ImageBuilder.build(in, line -> {
                progress.println(line);
                progress.flush();
            });
        } catch (ImageException e) {
            throw new UserError(e.getMessage(), e);
        }
    }

    /**
     * Builds when stale, then packs the OCI image; progress goes to {@code out} (null: silent).
     *
     * @throws UserError       for anything the user must fix
     * @throws ManifestException if the manifest is invalid
     */
    static OciPacker.Result packOci(Path app, String tag, int uid, boolean dockerArchive, PrintWriter out)
            throws UserError, ManifestException {
        return packOci(app, tag, uid, dockerArchive, true, out);
    }

    /** As above; {@code layerCache} false compresses every layer anew. */
    static OciPacker.Result packOci(Path app, String tag, int uid, boolean dockerArchive, boolean layerCache,
            PrintWriter out) throws UserError, ManifestException {
        requireApp(app);
        if (!tag.matches("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")) {
            throw new UserError("--tag must be 1-128 letters, digits, '_', '.' or '-' (not starting with '.' or "
                    + "'-'), got \"" + tag + "\"");
        }
        if (uid < 0) {
            throw new UserError("--user must be a uid (0 or more), got " + uid);
        }
        PrintWriter progress = out != null ? out : new PrintWriter(java.io.Writer.nullWriter());
        BuildCommand.Result build = BuildCommand.buildIfStale(app, progress);
        OciPacker.Inputs in = new OciPacker.Inputs(build.manifest(), app, build.bundle().path(),
                build.runtime().executable(), build.runtime().version(), app.resolve("dist"),
                ImageBuilder.Inputs.defaultCacheDir(), uid, tag, dockerArchive, layerCache);
        if (out != null) {
            out.println("Packing " + build.manifest().name() + " into " + InitCommand.display(
                    OciPacker.layoutPath(app.resolve("dist"), build.manifest().name())) + " (OCI image)...");
            out.flush();
        }
        try {
            return OciPacker.build(in, line -> {
                progress.println(line);
                progress.flush();
            });
        } catch (ImageException e) {
            throw new UserError(e.getMessage(), e);
        }
    }

    static String ociSummaryLine(OciPacker.Result r) {
        return "Packed " + r.config().labels().get("org.opencontainers.image.title") + ": "
                + InitCommand.display(r.layout()) + " (" + ImageSizes.mib(r.compressedBytes()) + " compressed, "
                + ImageSizes.mib(r.unpackedBytes()) + " unpacked), digest " + r.digest();
    }

    private static void printOciTable(PrintWriter out, OciPacker.Result r) {
        out.printf(Locale.ROOT, "  %-20s %8s %12s %12s  %s%n", "layer", "entries", "unpacked", "compressed", "digest");
        for (var l : r.layers()) {
            out.printf(Locale.ROOT, "  %-20s %8d %12s %12s  %s%n", l.name(), l.layer().entries(),
                    ImageSizes.mib(l.layer().uncompressedSize()), ImageSizes.mib(l.layer().size()),
                    l.layer().digest().substring(0, 19));
        }
        out.println("  user " + r.config().user() + ", entrypoint " + String.join(" ", r.config().entrypoint())
                + (r.config().exposedPorts().isEmpty() ? "" : ", ports " + String.join(" ", r.config().exposedPorts())));
        if (r.dockerArchive() != null) {
            out.println("  docker-archive: " + InitCommand.display(r.dockerArchive()));
        }
        for (String w : r.warnings()) {
            out.println("  warning: " + w);
        }
        out.println("Inspect it: skopeo inspect oci:" + InitCommand.display(r.layout()) + "; push it: ukernel push "
                + "REGISTRY/NAME:TAG; run it: see docs/deploy.md");
    }

    /**
     * Why the app's image must be (re)packed, or null when it is up to date: missing, for another app, an older
     * bundle or kernel, or (when {@code firecracker}) without its vmlinux.
     */
    static String staleness(Path app, String name, String bundleSha256, boolean firecracker) {
        Path img = ImageBuilder.imagePath(app.resolve("dist"), name);
        if (!Files.isRegularFile(img)) {
            return "no image yet";
        }
        try {
            var info = ImageInfo.read(img);
            if (info.isEmpty()) {
                return InitCommand.display(img) + " is not a ukernel image";
            }
            ImageInfo i = info.get();
            if (!i.app().equals(name)) {
                return "the image was built for app " + i.app();
            }
            if (!i.bundleSha256().equals(bundleSha256)) {
                return "the app changed";
            }
            Path work = Files.createTempDirectory("ukernel-jars-");
            try {
                if (!i.jarsSha256().equals(ImageBuilder.jarsSha256(work))) {
                    return "the kernel changed";
                }
            } finally {
                try (var s = Files.walk(work)) {
                    for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
            if (firecracker && !Files.isRegularFile(app.resolve("dist/" + name + ".vmlinux"))) {
                return "no vmlinux for Firecracker yet";
            }
            return null;
        } catch (IOException | ImageException e) {
            return "the image cannot be read (" + e.getMessage() + ")";
        }
    }

    static void requireApp(Path app) throws UserError {
        if (!Files.isRegularFile(app.resolve(Manifest.FILE_NAME))) {
            throw new UserError(InitCommand.display(app) + " has no " + Manifest.FILE_NAME
                    + " (create an app with `ukernel init NAME`)");
        }
    }

    static String summaryLine(ImageBuilder.Result r) {
        return "Packed " + r.info().app() + ": " + InitCommand.display(r.image()) + " (" + ImageSizes.mib(r.imageBytes())
                + ", " + ImageSizes.mib(r.unpackedBytes()) + " unpacked)";
    }

    private static void printTable(PrintWriter out, ImageBuilder.Result r) {
        out.printf(Locale.ROOT, "  %-18s %7s %12s %12s%n", "part", "files", "unpacked", "in image");
        int files = 0;
        for (ImageBuilder.Part p : r.parts()) {
            out.printf(Locale.ROOT, "  %-18s %7d %12s %12s%n", p.name(), p.files(), ImageSizes.mib(p.bytes()),
                    ImageSizes.mib(p.compressed()));
            files += p.files();
        }
        out.printf(Locale.ROOT, "  %-18s %7d %12s %12s%n", "total", files, ImageSizes.mib(r.unpackedBytes()),
                ImageSizes.mib(r.imageBytes()));
        out.println("  kernel:      " + InitCommand.display(r.kernel()) + sizeOf(r.kernel())
                + (r.info().kernelRelease().isEmpty() ? "" : ", linux " + r.info().kernelRelease()));
        if (r.vmlinux() != null) {
            out.println("  firecracker: " + InitCommand.display(r.vmlinux()) + sizeOf(r.vmlinux()) + ", "
                    + InitCommand.display(r.firecrackerConfig()));
        }
        if (!r.info().modules().isEmpty()) {
            out.println("  modules:     " + String.join(" ", r.info().moduleNames()) + " (loaded when the VM has a "
                    + "network device)");
        }
        for (String w : r.warnings()) {
            out.println("  warning:     " + w);
        }
        out.println("Boot it: ukernel run --vmm qemu");
    }

    private static String sizeOf(Path p) {
        try {
            return " (" + ImageSizes.mib(Files.size(p)) + ")";
        } catch (IOException e) {
            return "";
        }
    }
}
