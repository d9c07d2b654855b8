package io.ukernel.app;

import io.ukernel.abi.Cap;
import io.ukernel.kernel.policy.Policy;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An app's manifest ({@code ukernel.toml}) after parsing and validation: what the app is, what it may do
 * (the capability <em>policy</em>: the most any of its tasks can acquire, and the scopes that bound NET and IO),
 * and how its tasks are started and restarted. Produced by {@link ManifestParser}; immutable.
 *
 * @param file      the file it was read from (for messages)
 * @param name      the app's name: {@code [a-z0-9][a-z0-9_-]*}
 * @param entry     the main task's entry: {@code path/to/file.py} or {@code path/to/file.py:function}
 * @param python    the lowest CPython version the app needs, e.g. {@code 3.11}
 * @param caps      the granted capability mask ({@link Cap} bits): the policy ceiling of every task
 * @param net       allow-lists for {@code net_bind} / {@code net_connect}
 * @param preopens  directories {@code io_open} may reach, by preopen name
 * @param limits    quotas ({@code [limits]}: the kernel's own {@link Policy.Limits}, read as they are)
 * @param restart   the main task's restart policy
 * @param tasks     further tasks declared with {@code [[task]]}
 * @param sandbox   how workers are confined ({@code [sandbox]}; default: strict)
 * @param programs  the programs a task's children may run ({@code [caps] subprocess}): absolute host paths,
 *                  names looked up on the kernel's {@code PATH} when a worker starts ({@link #resolvePrograms}), or
 *                  {@value #WORKER_PYTHON}: the worker's own interpreter; default none
 */
public record Manifest(
        Path file,
        String name,
        String entry,
        String python,
        long caps,
        NetScope net,
        Map<String, Preopen> preopens,
        Policy.Limits limits,
        RestartPolicy restart,
        List<TaskSpec> tasks,
        Sandbox sandbox,
        List<String> programs) {

    /** The file name every app uses. */
    public static final String FILE_NAME = "ukernel.toml";

    /** The entry used when the manifest names none. */
    public static final String DEFAULT_ENTRY = "src/main.py";

    public Manifest {
        preopens = Map.copyOf(preopens);
        tasks = List.copyOf(tasks);
        programs = List.copyOf(programs);
    }

    /** In {@code [caps] subprocess}: the worker's own interpreter ({@code sys.executable}), whatever its path. */
    public static final String WORKER_PYTHON = "python";

    /** A manifest that lists no programs ({@code [caps] subprocess} absent). */
    public Manifest(Path file, String name, String entry, String python, long caps, NetScope net,
            Map<String, Preopen> preopens, Policy.Limits limits, RestartPolicy restart, List<TaskSpec> tasks,
            Sandbox sandbox) {
        this(file, name, entry, python, caps, net, preopens, limits, restart, tasks, sandbox, List.of());
    }

    /**
     * The host files of {@link #programs}, in order: an absolute path as given, a name found in the first
     * directory of {@code searchPath} (colon-separated) that holds an executable file of that name. A script
     * ({@code #!}) is accepted only when its interpreter is listed too (the host runs the interpreter).
     *
     * @throws java.io.IOException naming the program and what to change in {@code [caps] subprocess}
     */
    public List<Path> resolvePrograms(String searchPath) throws java.io.IOException {
        List<Path> out = new java.util.ArrayList<>();
        for (String p : programs) {
            Path found = null;
            if (p.equals(WORKER_PYTHON)) {
                out.add(Path.of(WORKER_PYTHON)); // the worker's own interpreter: the loader knows it
                continue;
            }
            if (p.startsWith("/")) {
                found = Path.of(p);
                if (!java.nio.file.Files.isRegularFile(found) || !java.nio.file.Files.isExecutable(found)) {
                    throw new java.io.IOException("[caps] subprocess: \"" + p + "\" is not an executable file on "
                            + "this host (install it, or remove it from subprocess in " + FILE_NAME + ")");
                }
            } else {
                for (String dir : searchPath.split(":")) {
                    Path c = dir.startsWith("/") ? Path.of(dir, p) : null;
                    if (c != null && java.nio.file.Files.isRegularFile(c) && java.nio.file.Files.isExecutable(c)) {
                        found = c;
                        break;
                    }
                }
                if (found == null) {
                    throw new java.io.IOException("[caps] subprocess: \"" + p + "\" is not found on the kernel's "
                            + "PATH (" + searchPath + "): give its absolute path in " + FILE_NAME + ", or install it");
                }
            }
            if (!out.contains(found)) {
                out.add(found);
            }
        }
        java.util.Set<Path> real = new java.util.HashSet<>();
        for (Path f : out) {
            if (f.isAbsolute()) {
                real.add(f.toRealPath());
            }
        }
        for (Path f : out) {
            if (!f.isAbsolute()) {
                continue;
            }
            String interp = interpreter(f);
            if (interp != null && !interp.isEmpty()) {
                Path ip = Path.of(interp);
                boolean listed = java.nio.file.Files.exists(ip) && real.contains(ip.toRealPath());
                if (!listed) {
                    throw new java.io.IOException("[caps] subprocess: " + f + " is a script run by " + interp
                            + ", which is not listed: add \"" + interp + "\" to subprocess in " + FILE_NAME
                            + " (the host executes the interpreter)");
                }
            }
        }
        return List.copyOf(out);
    }

    /** The interpreter a {@code #!} script names (its first word), else null. */
    private static String interpreter(Path file) throws java.io.IOException {
        byte[] head = new byte[256];
        int n;
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        }
        if (n < 2 || head[0] != '#' || head[1] != '!') {
            return null;
        }
        String line = new String(head, 2, n - 2, java.nio.charset.StandardCharsets.ISO_8859_1).split("\n", 2)[0].trim();
        return line.isEmpty() ? "" : line.split("[ \t]+", 2)[0];
    }

    /** The declared task called {@code name}, if any. */
    public Optional<TaskSpec> task(String name) {
        return tasks.stream().filter(t -> t.name().equals(name)).findFirst();
    }

    /** {@code net.connect} and {@code net.bind} allow-lists of {@code host:port} patterns. */
    public record NetScope(List<String> connect, List<String> bind) {
        public NetScope {
            connect = List.copyOf(connect);
            bind = List.copyOf(bind);
        }

        public static NetScope none() {
            return new NetScope(List.of(), List.of());
        }
    }

    /**
     * A directory inside the app that {@code io_open} may reach under {@code name}, and that the worker sees by path
     * (read-only, or read-write when {@code writable}) at its host path, named by {@code UKERNEL_PREOPEN_<NAME>}.
     */
    public record Preopen(String name, String path, boolean writable) {}

    /**
     * What happens when a task ends.
     *
     * @param mode       {@code no}, {@code on-failure} (non-zero exit) or {@code always}
     * @param maxRetries restarts allowed before giving up (for {@code on-failure})
     * @param backoffMs  delay before the first restart; doubles after each, up to {@code backoffMaxMs}
     */
    public record RestartPolicy(Mode mode, int maxRetries, long backoffMs, long backoffMaxMs) {
        public enum Mode {
            NO("no"),
            ON_FAILURE("on-failure"),
            ALWAYS("always");

            private final String text;

            Mode(String text) {
                this.text = text;
            }

            /** The spelling used in the manifest. */
            public String text() {
                return text;
            }
        }

        public static RestartPolicy never() {
            return new RestartPolicy(Mode.NO, 0, 100, 10_000);
        }
    }

    /**
     * A task declared with {@code [[task]]}.
     *
     * @param name      unique name, used by {@code task_spawn} and in console prefixes
     * @param entry     {@code path.py} or {@code path.py:function}
     * @param caps      the most this task may hold (within the app's grant)
     * @param atBoot    whether the kernel starts it at boot ({@code start = "boot"}) or only on
     *                  {@code task_spawn} ({@code start = "spawn"})
     * @param restart   its restart policy
     */
    public record TaskSpec(String name, String entry, long caps, boolean atBoot, RestartPolicy restart) {}

    /**
     * How the workers are confined ({@code [sandbox]}, see docs/confinement.md).
     *
     * @param mode       {@code strict}: every worker confines itself (Landlock + seccomp) before the app's code
     *                   runs, and a host that cannot confine refuses to start it; {@code off}: unconfined
     * @param namespaces {@code auto}, {@code on} or {@code off}: each worker in its own mount (minimal read-only
     *                   root), pid, ipc, net and uts namespaces (plus a user namespace when the kernel is not root);
     *                   {@code auto} where the host allows, {@code on} required (strict mode then refuses to start
     *                   workers on a host that does not allow them)
     */
    public record Sandbox(Mode mode, Namespaces namespaces) {
        public enum Mode {
            STRICT,
            OFF;

            /** The spelling used in the manifest. */
            public String text() {
                return name().toLowerCase(java.util.Locale.ROOT);
            }
        }

        public enum Namespaces {
            AUTO,
            ON,
            OFF;

            /** The spelling used in the manifest. */
            public String text() {
                return name().toLowerCase(java.util.Locale.ROOT);
            }
        }

        public static Sandbox defaults() {
            return new Sandbox(Mode.STRICT, Namespaces.AUTO);
        }
    }
}
