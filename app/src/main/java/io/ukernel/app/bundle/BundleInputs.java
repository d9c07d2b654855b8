package io.ukernel.app.bundle;

import io.ukernel.app.Manifest;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What goes into a bundle, found on disk: {@code ukernel.toml}, the files under {@code src/} (without
 * {@code __pycache__}, {@code *.pyc} and dotfiles) and the adapter's {@code *.py} and {@code py.typed} under
 * {@code adapter/ukernel/}, and the packages {@code requirements.txt} installed ({@code build/deps/site}, as
 * {@code deps/}: see {@link Dependencies}). Links and special files are refused, so that a bundle holds only what
 * the app directory really contains. {@code env/} is never collected: it may hold secrets and is passed at run time.
 */
final class BundleInputs {
    /** A file to bundle: its name in the archive, where it is, and whether it is executable. */
    record Input(String name, Path source, boolean executable) {}

    static final String SRC = "src";
    static final String ADAPTER_PREFIX = "adapter/ukernel";

    final List<Input> files = new ArrayList<>();
    final SortedSet<String> dirs = new TreeSet<>();
    /** App-side paths (files and directories) whose modification time makes the bundle stale. */
    final List<Path> appPaths = new ArrayList<>();

    private BundleInputs() {}

    static BundleInputs collect(Path appDir, Path adapterDir) throws IOException {
        BundleInputs in = new BundleInputs();
        Path manifest = appDir.resolve(Manifest.FILE_NAME);
        in.files.add(new Input(Manifest.FILE_NAME, manifest, false));
        in.appPaths.add(manifest);
        Path src = appDir.resolve(SRC);
        if (Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS)) {
            in.walk(src, SRC, true, name -> true);
        }
        if (!Files.isDirectory(adapterDir)) {
            throw new BundleException(adapterDir + ": the Python adapter's source directory does not exist");
        }
        Path site = Dependencies.site(appDir);
        if (Files.isRegularFile(appDir.resolve(Dependencies.REQUIREMENTS), LinkOption.NOFOLLOW_LINKS)
                && Files.isDirectory(site, LinkOption.NOFOLLOW_LINKS)) {
            in.appPaths.add(appDir.resolve(Dependencies.REQUIREMENTS));
            in.walk(site, Dependencies.BUNDLE_PREFIX, true, name -> true);
        }
        in.dirs.add("adapter");
        in.walk(adapterDir, ADAPTER_PREFIX, false, name -> name.endsWith(".py") || name.equals("py.typed"));
        return in;
    }

    private void walk(Path root, String prefix, boolean app, java.util.function.Predicate<String> wanted)
            throws IOException {
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                String n = dir.getFileName().toString();
                if (!dir.equals(root) && (n.startsWith(".") || n.equals("__pycache__"))) {
                    return FileVisitResult.SKIP_SUBTREE;
                }
                dirs.add(name(dir));
                if (app) {
                    appPaths.add(dir);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                String n = file.getFileName().toString();
                if (n.startsWith(".") || n.endsWith(".pyc") || !wanted.test(n)) {
                    return FileVisitResult.CONTINUE;
                }
                if (attrs.isSymbolicLink()) {
                    throw new BundleException(file + ": symbolic links are not bundled; copy the file instead");
                }
                if (!attrs.isRegularFile()) {
                    throw new BundleException(file + ": not a regular file; bundles hold only files and directories");
                }
                files.add(new Input(name(file), file, executable(file)));
                if (app) {
                    appPaths.add(file);
                }
                return FileVisitResult.CONTINUE;
            }

            private String name(Path p) {
                Path rel = root.relativize(p);
                StringBuilder b = new StringBuilder(prefix);
                for (Path part : rel) {
                    if (!part.toString().isEmpty()) {
                        b.append('/').append(part);
                    }
                }
                return b.toString();
            }
        });
    }

    private static boolean executable(Path file) {
        try {
            return Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS)
                    .contains(PosixFilePermission.OWNER_EXECUTE);
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
