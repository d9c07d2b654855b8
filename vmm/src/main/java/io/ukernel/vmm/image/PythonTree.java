package io.ukernel.vmm.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The host's CPython as the guest gets it: the interpreter, its standard library without what a worker cannot use
 * (tests, IDLE, Tk, ensurepip, lib2to3, pydoc data, turtle demos, distutils, site-packages, the static library
 * and build configuration) and its extension modules without GUI, terminal and test ones. Compiled modules are
 * kept and marked "unchecked hash-based" (PEP 552): the image's files get a fixed mtime, which would make
 * timestamp-checked {@code .pyc} files look stale and be recompiled at every start under emulation.
 */
final class PythonTree {
    /** Top-level stdlib entries left out. */
    static final Set<String> PRUNED_TOP = Set.of("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
            "pydoc_data", "distutils", "site-packages", "dist-packages", "venv", "curses", "turtle.py", "__phello__",
            "idle_test");
    /** Directory names left out wherever they are (packages' own tests). */
    static final Set<String> PRUNED_ANYWHERE = Set.of("test", "tests", "idle_test", "__phello__");
    /** Extension modules left out (prefixes of file names in lib-dynload). */
    static final List<String> PRUNED_EXTENSIONS = List.of("_tkinter", "_test", "xxlimited", "xxsubtype", "_xxtestfuzz",
            "_ctypes_test", "readline", "_curses", "nis", "_dbm", "_gdbm", "ossaudiodev", "spwd", "_crypt");
    private static final Pattern PYC = Pattern.compile("(.+)\\.cpython-(\\d+)\\.pyc");

    /** Where the guest's interpreter lives. */
    static final String GUEST_PREFIX = "ukernel/python";

    /**
     * One file for the image.
     *
     * @param guest  its path in the image (relative to /)
     * @param source the host file, or null when {@code data} holds the content
     * @param data   the content when rewritten (marked {@code .pyc})
     * @param perm   0755 or 0644
     */
    record Entry(String guest, Path source, byte[] data, int perm) {}

    /**
     * The tree.
     *
     * @param entries      the files
     * @param interpreter  the interpreter's path in the image, absolute
     * @param elfs         host files to ask {@code ldd} about (interpreter, extension modules)
     * @param libDir       the host's {@code lib/} of the prefix (its libpython is a library like any other)
     */
    record Tree(List<Entry> entries, String interpreter, List<Path> elfs, Path libDir) {}

    private PythonTree() {}

    /**
     * Collects the tree of the interpreter {@code executable} (its real path), version {@code minor} (e.g. 3.11).
     *
     * @throws ImageException if the standard library is not where CPython keeps it
     */
    static Tree collect(Path executable, String minor) throws ImageException {
        Path exe;
        try {
            exe = executable.toRealPath();
        } catch (IOException e) {
            throw new ImageException("python " + executable + " is gone: " + e.getMessage());
        }
        Path prefix = exe.getParent().getParent();
        Path stdlib = prefix.resolve("lib/python" + minor);
        if (!Files.isRegularFile(stdlib.resolve("os.py"))) {
            // Debian's /usr/bin/python3.11 keeps its stdlib in /usr/lib/python3.11 too; anything else is unusual.
            throw new ImageException("cannot find the standard library of " + exe + " (no " + stdlib.resolve("os.py")
                    + "): set UKERNEL_PYTHON to a CPython installed with its standard library");
        }
        List<Entry> entries = new ArrayList<>();
        List<Path> elfs = new ArrayList<>();
        String guestExe = GUEST_PREFIX + "/bin/" + exe.getFileName();
        entries.add(new Entry(guestExe, exe, null, 0755));
        elfs.add(exe);
        String guestStdlib = GUEST_PREFIX + "/lib/python" + minor;
        try {
            for (Path p : ImageFiles.walk(stdlib)) {
                Path rel = stdlib.relativize(p);
                if (pruned(rel) || Files.isSymbolicLink(p)) {
                    continue;
                }
                String name = rel.getFileName().toString();
                String guest = guestStdlib + "/" + rel.toString().replace('\\', '/');
                if (rel.getNameCount() >= 2 && rel.getName(0).toString().equals("lib-dynload")) {
                    if (PRUNED_EXTENSIONS.stream().anyMatch(name::startsWith)) {
                        continue;
                    }
                    entries.add(new Entry(guest, p, null, 0755));
                    elfs.add(p);
                    continue;
                }
                if (name.endsWith(".pyc")) {
                    byte[] marked = markedPyc(p);
                    if (marked != null) {
                        entries.add(new Entry(guest, null, marked, 0644));
                    }
                    continue;
                }
                if (name.endsWith(".exe") || name.endsWith(".pyo")) {
                    continue;
                }
                entries.add(new Entry(guest, p, null, 0644));
            }
        } catch (IOException e) {
            throw new ImageException("cannot read the standard library " + stdlib + ": " + e.getMessage(), e);
        }
        return new Tree(entries, "/" + guestExe, elfs, prefix.resolve("lib"));
    }

    static boolean pruned(Path rel) {
        String top = rel.getName(0).toString();
        if (PRUNED_TOP.contains(top) || top.startsWith("config-")) {
            return true;
        }
        for (int i = 0; i < rel.getNameCount() - 1; i++) {
            if (PRUNED_ANYWHERE.contains(rel.getName(i).toString())) {
                return true;
            }
        }
        return false;
    }

    /**
     * The {@code .pyc} at {@code pyc} marked unchecked-hash-based, or null to leave it out: an optimized one
     * ({@code .opt-1}), or one that does not match its source (stale, or for another version).
     */
    static byte[] markedPyc(Path pyc) throws IOException {
        String name = pyc.getFileName().toString();
        var m = PYC.matcher(name);
        if (!m.matches() || name.contains(".opt-") || pyc.getParent() == null
                || !pyc.getParent().getFileName().toString().equals("__pycache__")) {
            return null;
        }
        Path source = pyc.getParent().getParent().resolve(m.group(1) + ".py");
        if (!Files.isRegularFile(source, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        byte[] b = Files.readAllBytes(pyc);
        if (b.length < 16) {
            return null;
        }
        ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int flags = h.getInt(4);
        if (flags == 0) {
            BasicFileAttributes a = Files.readAttributes(source, BasicFileAttributes.class);
            long mtime = Integer.toUnsignedLong(h.getInt(8));
            long size = Integer.toUnsignedLong(h.getInt(12));
            if (mtime != (a.lastModifiedTime().toMillis() / 1000 & 0xFFFF_FFFFL) || size != (a.size() & 0xFFFF_FFFFL)) {
                return null;
            }
        }
        // PEP 552: flags bit 0 = hash-based, bit 1 = check_source. 1 = never check against the source.
        h.putInt(4, 1);
        return b;
    }
}
