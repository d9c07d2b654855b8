package io.ukernel.cli;

import io.ukernel.app.Manifest;
import io.ukernel.app.AppKernel;
import io.ukernel.app.ManifestParser;
import io.ukernel.app.bundle.Bundle;
import io.ukernel.app.bundle.BundleReader;
import io.ukernel.kernel.Kernel;
import io.ukernel.kernel.KernelClock;
import io.ukernel.kernel.console.Console;
import io.ukernel.platform.process.ProcessPlatform;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * How an app becomes a kernel on the process platform, in one place for {@code ukernel run} (foreground) and
 * {@code ukernel host} (many apps in one JVM): build when stale, extract the bundle, parse the manifest, choose
 * the sandbox; the {@link Kernel} itself is assembled by {@link AppKernel}, as on the other platforms.
 */
final class AppLaunch {
    /** An app built and extracted, ready to boot. */
    record Prepared(Path app, Path root, Manifest manifest, BuildCommand.Result build) {}

    private AppLaunch() {}

    /** Builds {@code app} when a source changed (progress to {@code out}) and extracts its bundle. */
    static Prepared prepare(Path app, PrintWriter out) throws Exception {
        app = app.toAbsolutePath().normalize();
        if (!Files.isRegularFile(app.resolve(Manifest.FILE_NAME))) {
            throw new UserError(app + " has no " + Manifest.FILE_NAME + " (create an app with `ukernel init NAME`)");
        }
        BuildCommand.Result build = BuildCommand.buildIfStale(app, out);
        Path root = extract(app);
        Manifest manifest = ManifestParser.parse(root.resolve(Manifest.FILE_NAME));
        return new Prepared(app, root, manifest, build);
    }

    /** The kernel for a prepared app, writing to {@code console}. */
    static Kernel kernel(Prepared p, Map<String, String> environment, Console console, KernelClock clock,
            double graceSeconds, boolean insecureNoSandbox) throws IOException {
        return kernel(p, environment, console, clock, graceSeconds, insecureNoSandbox, null);
    }

    /** As above, forking workers from {@code warm}'s templates where it can (the resident host; null: none). */
    static Kernel kernel(Prepared p, Map<String, String> environment, Console console, KernelClock clock,
            double graceSeconds, boolean insecureNoSandbox, ProcessPlatform.WarmStarts warm) throws IOException {
        return AppKernel.kernel(p.manifest(), p.root(), p.app(), environment,
                new ProcessPlatform(p.build().runtime().executable(), p.build().runtime().version(),
                        AppKernel.sandbox(p.manifest(), insecureNoSandbox)).warmStarts(warm),
                console, clock, (long) (graceSeconds * TimeUnit.SECONDS.toNanos(1)));
    }

    /**
     * Extracts the bundle to build/root unless that already holds this exact bundle. Synchronized: the host may
     * prepare two instances of one app at once.
     */
    static synchronized Path extract(Path app) throws IOException {
        Path tgz = Bundle.path(app);
        Path root = app.resolve("build/root");
        Path stamp = root.resolve(".bundle.sha256");
        String sha = io.ukernel.app.bundle.Sha256.hex(Files.readAllBytes(tgz));
        if (Files.isRegularFile(stamp) && Files.readString(stamp, StandardCharsets.UTF_8).equals(sha)) {
            return root;
        }
        deleteTree(root);
        BundleReader.extract(tgz, root);
        Files.writeString(stamp, sha, StandardCharsets.UTF_8);
        return root;
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
