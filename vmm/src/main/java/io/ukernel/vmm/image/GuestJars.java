package io.ukernel.vmm.image;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

/**
 * The kernel's jars for the guest: the jars (or, running from a build tree, the class directories, jarred
 * reproducibly) that hold the ABI, the app model, the platform, the kernel and the guest init.
 */
final class GuestJars {
    /** One class from each module the guest needs. */
    static final List<Class<?>> MODULES = List.of(io.ukernel.abi.Abi.class, io.ukernel.app.Manifest.class,
            io.ukernel.platform.spi.Platform.class, io.ukernel.kernel.Kernel.class,
            io.ukernel.vmm.guest.GuestInit.class);

    private GuestJars() {}

    /**
     * The jars, in classpath order; class directories are jarred into {@code workDir}.
     *
     * @throws ImageException if a module's classes cannot be located
     */
    static List<Path> locate(Path workDir) throws ImageException {
        List<Path> jars = new ArrayList<>();
        for (Class<?> c : MODULES) {
            Path loc;
            try {
                loc = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
            } catch (URISyntaxException | NullPointerException e) {
                throw new ImageException("cannot locate the classes of " + c.getName());
            }
            if (Files.isDirectory(loc)) {
                // target/classes of a module: its artifact name is the module directory's name
                Path module = loc.getParent() != null ? loc.getParent().getParent() : null;
                String name = "ukernel-" + (module != null ? module.getFileName() : c.getPackageName()) + ".jar";
                loc = jar(loc, workDir.resolve(name));
            }
            if (!jars.contains(loc)) {
                jars.add(loc);
            }
        }
        return jars;
    }

    private static Path jar(Path classes, Path dest) throws ImageException {
        try {
            Files.createDirectories(dest.getParent());
            FileTime t = FileTime.fromMillis(0);
            try (OutputStream f = Files.newOutputStream(dest); JarOutputStream out = new JarOutputStream(f)) {
                for (Path p : ImageFiles.walk(classes)) {
                    JarEntry e = new JarEntry(classes.relativize(p).toString().replace('\\', '/'));
                    e.setLastModifiedTime(t);
                    out.putNextEntry(e);
                    Files.copy(p, out);
                    out.closeEntry();
                }
            }
            return dest;
        } catch (IOException e) {
            throw new ImageException("cannot jar " + classes + ": " + e.getMessage(), e);
        }
    }
}
