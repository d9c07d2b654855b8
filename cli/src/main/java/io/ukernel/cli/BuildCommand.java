package io.ukernel.cli;

import io.ukernel.app.Manifest;
import io.ukernel.app.ManifestException;
import io.ukernel.app.bundle.AdapterMetadata;
import io.ukernel.app.bundle.AppBuilder;
import io.ukernel.app.bundle.BuildException;
import io.ukernel.app.bundle.BuildResult;
import io.ukernel.app.bundle.BundleException;
import io.ukernel.app.bundle.BundleInfo;
import io.ukernel.app.bundle.PythonRuntime;
import io.ukernel.app.bundle.RuntimeCache;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ukernel build [DIR]}: write {@code build/bundle.tgz} and the adapter metadata when anything changed. */
@Command(
        name = "build",
        header = "Check the manifest and build build/bundle.tgz (reproducible).",
        mixinStandardHelpOptions = true,
        description = {
            "Check ukernel.toml and build the app: build/bundle.tgz (the manifest, src/ and the Python adapter; "
                    + "byte-for-byte reproducible, SOURCE_DATE_EPOCH sets its file times) and "
                    + "build/adapter/python-X.Y/adapter.json (the CPython that runs it: python3 on PATH, or "
                    + "$UKERNEL_PYTHON).",
            "",
            "Nothing is rewritten when the bundle is up to date. env/ is not bundled: it may hold secrets and "
                    + "`ukernel run` passes it at start.",
            "",
            "Packages: a requirements.txt beside ukernel.toml is installed with the worker's own interpreter "
                    + "(pip install --target build/deps/site, no byte code) when it or pip's source settings "
                    + "change, and bundled as deps/ (on sys.path after src/). pip honours --hash pins, "
                    + "--index-url, --find-links and --no-index lines in the file, and PIP_INDEX_URL / "
                    + "PIP_FIND_LINKS / PIP_NO_INDEX from the environment. --force reinstalls."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel build                       build the app in the current directory",
            "  ukernel build examples/hello --force",
            "  UKERNEL_PYTHON=/usr/bin/python3.12 ukernel build",
            "  PIP_FIND_LINKS=$HOME/wheels PIP_NO_INDEX=1 ukernel build   offline: packages from a wheel directory"
        })
public final class BuildCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR", description = "The app directory (default: .)")
    Path dir = Path.of(".");

    @Option(names = "--force",
            description = "Rebuild even if the bundle is up to date (and reinstall requirements.txt).")
    boolean force;

    /**
     * What {@link #buildIfStale} produced: the build's result, with the accessors {@code ukernel run} needs.
     *
     * @param build everything the build knows ({@link BuildResult})
     */
    public record Result(BuildResult build) {
        /** The interpreter that runs the app. */
        public PythonRuntime runtime() {
            return build.runtime();
        }

        /** The validated manifest. */
        public Manifest manifest() {
            return build.manifest();
        }

        /** The bundle on disk. */
        public BundleInfo bundle() {
            return build.bundle();
        }

        /** The adapter metadata (interpreter, entrypoint). */
        public AdapterMetadata adapter() {
            return build.adapter();
        }

        /** Whether nothing had to be written. */
        public boolean upToDate() {
            return build.upToDate();
        }
    }

    /**
     * Builds the app in {@code appDir} if it is stale, printing one line to {@code out} when something was
     * (re)built and nothing otherwise. For {@code ukernel run}.
     *
     * @throws ManifestException if the manifest is invalid
     * @throws UserError         for any other problem the user must fix (no python3, a link in src/, ...)
     */
    public static Result buildIfStale(Path appDir, PrintWriter out) throws ManifestException, UserError {
        Result r = build(appDir, false, true);
        if (!r.upToDate()) {
            out.println("ukernel: built " + summary(r.build()));
            out.flush();
        }
        return r;
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path app = dir.toAbsolutePath().normalize();
        try {
            if (!Files.isRegularFile(app.resolve(Manifest.FILE_NAME))) {
                throw new UserError(InitCommand.display(app) + " has no " + Manifest.FILE_NAME
                        + " (create an app with `ukernel init NAME`)");
            }
            BuildResult r = build(app, force, false).build();
            out.println((r.upToDate() ? "Up to date: " : "Built ") + summary(r));
            out.printf("  runtime: %s (CPython %s) -> %s%n", r.runtime().executable(), r.runtime().version(),
                    InitCommand.display(r.adapterJson()));
            out.printf("  entry:   %s%n", r.adapter().entrypoint());
            out.flush();
            return 0;
        } catch (ManifestException | UserError e) {
            err.println("ukernel build: " + e.getMessage());
            err.flush();
            return 1;
        }
    }

    /**
     * @param cachedRuntime reuse the interpreter found last time when python3 still resolves to the same file
     *                      ({@code ukernel run}, on its start-up path); {@code ukernel build} always asks afresh
     */
    private static Result build(Path appDir, boolean force, boolean cachedRuntime) throws ManifestException,
            UserError {
        Path app = appDir.toAbsolutePath().normalize();
        Path tmp = null;
        try {
            tmp = Files.createTempDirectory("ukernel-adapter-");
            Path adapter = AdapterResources.extractTo(tmp.resolve("ukernel"));
            PythonRuntime.Detector detector = cachedRuntime ? new RuntimeCache(app) : PythonRuntime::detect;
            BuildResult built = new AppBuilder(adapter, detector, BuildCommand::pipLine).build(app, force);
            checkPrograms(built.manifest());
            return new Result(built);
        } catch (BuildException | BundleException e) {
            throw new UserError(e.getMessage(), e);
        } catch (IOException e) {
            throw new UserError("build failed: " + e.getMessage(), e);
        } finally {
            deleteQuietly(tmp);
        }
    }

    /**
     * {@code [caps] subprocess} checked at build on this host (the kernel resolves the list again at every worker
     * start): a program that cannot be found, or a script whose interpreter is not listed, stops the build.
     */
    private static void checkPrograms(Manifest m) throws UserError {
        String path = System.getenv("PATH");
        try {
            m.resolvePrograms(path == null || path.isEmpty() ? "/usr/local/bin:/usr/bin:/bin" : path);
        } catch (IOException e) {
            throw new UserError(m.file() + ": " + e.getMessage(), e);
        }
    }

    /** pip's output while it installs requirements.txt: on stderr, so the long step shows its progress. */
    private static void pipLine(String line) {
        System.err.println("ukernel: pip: " + line);
        System.err.flush();
    }

    /** {@code demo: build/bundle.tgz (12 files, 34567 bytes, sha256 1a2b3c4d5e6f)}. */
    static String summary(BuildResult r) {
        BundleInfo b = r.bundle();
        return r.manifest().name() + ": " + InitCommand.display(b.path()) + " (" + b.files() + " files, "
                + b.bytes() + " bytes, sha256 " + b.sha256().substring(0, 12) + ")";
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // a leftover temporary directory is harmless
        }
    }
}
