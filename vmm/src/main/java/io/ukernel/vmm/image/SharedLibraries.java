package io.ukernel.vmm.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * The host's shared libraries that the guest's executables link, found with {@code ldd}. Each goes into the image
 * at the path the guest's dynamic loader searches: its host path when that is a system library directory, else
 * (a library found through a host-specific {@code RUNPATH}, such as pyenv's {@code libpython}) the directory
 * holding {@code libc}.
 */
final class SharedLibraries {
    private static final Set<String> SYSTEM_DIRS = Set.of("/lib", "/lib64", "/usr/lib", "/usr/lib64");

    /**
     * What was found.
     *
     * @param libraries guest path → host file (the link resolved)
     * @param missing   libraries {@code ldd} could not find (the guest would fail to load them)
     */
    record Found(Map<String, Path> libraries, Set<String> missing) {}

    private SharedLibraries() {}

    /**
     * The libraries {@code elfs} need, except those inside {@code provided} (already in the image).
     *
     * @throws ImageException if {@code ldd} cannot be run
     */
    static Found of(List<Path> elfs, List<Path> provided) throws ImageException {
        Map<String, Path> libs = new TreeMap<>();
        Set<String> missing = new TreeSet<>();
        String libcDir = null;
        List<String[]> pairs = new ArrayList<>();
        for (int i = 0; i < elfs.size(); i += 64) {
            for (String line : ldd(elfs.subList(i, Math.min(elfs.size(), i + 64))).split("\n")) {
                String l = line.strip();
                int arrow = l.indexOf(" => ");
                if (arrow > 0) {
                    String name = l.substring(0, arrow);
                    String rest = l.substring(arrow + 4);
                    if (rest.startsWith("not found")) {
                        missing.add(name);
                        continue;
                    }
                    String path = rest.replaceFirst("\\s*\\(0x[0-9a-f]+\\)$", "").strip();
                    if (!path.isEmpty()) {
                        pairs.add(new String[] {name, path});
                        if (name.startsWith("libc.so")) {
                            libcDir = Path.of(path).getParent().toString();
                        }
                    }
                } else if (l.startsWith("/") && l.contains(" (0x")) {
                    String path = l.substring(0, l.indexOf(" (0x"));     // the dynamic loader itself
                    pairs.add(new String[] {Path.of(path).getFileName().toString(), path});
                }
            }
        }
        for (String[] pr : pairs) {
            Path host = Path.of(pr[1]).toAbsolutePath().normalize();
            if (provided.stream().anyMatch(p -> host.startsWith(p.toAbsolutePath().normalize()))) {
                continue;
            }
            String dir = host.getParent().toString();
            String guest = isSystemDir(dir) || libcDir == null ? host.toString() : libcDir + "/" + pr[0];
            Path real;
            try {
                real = host.toRealPath();
            } catch (IOException e) {
                missing.add(pr[0]);
                continue;
            }
            libs.putIfAbsent(guest, real);
        }
        missing.removeIf(m -> libs.keySet().stream().anyMatch(g -> g.endsWith("/" + m)));
        // libjava.so needs libjvm.so, which the JVM has loaded already (ldd alone cannot know)
        missing.removeIf(m -> provided.stream().anyMatch(root -> containsFile(root, m)));
        return new Found(libs, missing);
    }

    private static boolean containsFile(Path root, String name) {
        try (var s = java.nio.file.Files.walk(root)) {
            return s.anyMatch(p -> p.getFileName().toString().equals(name));
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean isSystemDir(String dir) {
        if (SYSTEM_DIRS.contains(dir)) {
            return true;
        }
        // multiarch: /lib/x86_64-linux-gnu, /usr/lib/aarch64-linux-gnu
        Path p = Path.of(dir);
        return p.getParent() != null && SYSTEM_DIRS.contains(p.getParent().toString())
                && p.getFileName().toString().contains("-linux-");
    }

    private static String ldd(List<Path> files) throws ImageException {
        List<String> cmd = new ArrayList<>();
        cmd.add("ldd");
        files.forEach(f -> cmd.add(f.toString()));
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new ImageException("ldd is not installed (Debian/Ubuntu: libc-bin); `ukernel pack` needs it to "
                    + "find the shared libraries of java and python3");
        }
        try (InputStream in = p.getInputStream()) {
            String out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(60, TimeUnit.SECONDS);
            return out;
        } catch (IOException e) {
            throw new ImageException("ldd failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ImageException("interrupted while running ldd", e);
        }
    }
}
