package io.ukernel.kernel.policy;

import io.ukernel.abi.Cap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What the kernel enforces for one app: the capability grant, the scopes that bound NET and IO, the quotas, and
 * the tasks it starts and restarts. The kernel reads nothing else about the app: the layer that owns the app's
 * format (app's {@code ManifestPolicy} for {@code ukernel.toml}) builds this, together with the {@link PolicyHints}
 * that word a refusal's remedy in that format. Immutable.
 *
 * @param name     the app's name (console lines)
 * @param entry    the main task's entry: {@code path/to/file.py} or {@code path/to/file.py:function}
 * @param python   the lowest CPython version the app needs (shown at boot)
 * @param caps     the granted capability mask ({@link Cap} bits): the ceiling of every task
 * @param net      allow-lists for {@code net_bind} / {@code net_connect}
 * @param preopens directories {@code io_open} may reach, by preopen name
 * @param limits   quotas
 * @param restart  the main task's restart policy
 * @param tasks    further tasks, started at boot or by {@code task_spawn}
 * @param programs the programs a task's children may run, resolved to host files at every worker start
 * @param hints    how a refusal's remedy is worded for the user
 */
public record Policy(
        String name,
        String entry,
        String python,
        long caps,
        NetScope net,
        Map<String, Preopen> preopens,
        Limits limits,
        RestartPolicy restart,
        List<TaskSpec> tasks,
        Programs programs,
        PolicyHints hints) {

    public Policy {
        preopens = Map.copyOf(preopens);
        tasks = List.copyOf(tasks);
    }

    /**
     * A policy that lets no task's children run programs, its refusals in the kernel's own wording
     * ({@link PolicyHints#NEUTRAL}).
     */
    public Policy(String name, String entry, String python, long caps, NetScope net, Map<String, Preopen> preopens,
            Limits limits, RestartPolicy restart, List<TaskSpec> tasks) {
        this(name, entry, python, caps, net, preopens, limits, restart, tasks, Programs.NONE, PolicyHints.NEUTRAL);
    }

    /**
     * The programs a task's children may run: as the policy lists them (the boot line shows them), and as host
     * files, resolved each time a worker starts (a name is looked up on the kernel's {@code PATH} then) by the
     * layer that owns the policy's format, which words its refusals.
     *
     * @param listed   as listed, e.g. {@code sh}, {@code /usr/bin/git}, {@code python}
     * @param resolver how they become host files
     */
    public record Programs(List<String> listed, Resolver resolver) {
        /** None: a task's children may run nothing. */
        public static final Programs NONE = new Programs(List.of(), searchPath -> List.of());

        public Programs {
            listed = List.copyOf(listed);
        }

        /**
         * The host files, in order ({@code python} for the worker's own interpreter).
         *
         * @param searchPath the kernel's {@code PATH}
         * @throws IOException naming the program and what to change
         */
        public List<Path> resolve(String searchPath) throws IOException {
            return resolver.resolve(searchPath);
        }

        /** Resolves listed programs to host files. */
        @FunctionalInterface
        public interface Resolver {
            List<Path> resolve(String searchPath) throws IOException;
        }
    }

    /** The declared task called {@code name}, if any. */
    public Optional<TaskSpec> task(String name) {
        return tasks.stream().filter(t -> t.name().equals(name)).findFirst();
    }

    /** {@code net_connect} and {@code net_bind} allow-lists of {@code host:port} patterns. */
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
    public record Preopen(String name, String path, boolean writable) {
        /**
         * The app directories the kernel itself writes or runs from (the bundle, the images, the console logs,
         * the adapter): a worker writing there could change the code it runs or forge the kernel's records.
         */
        public static final List<String> RESERVED = List.of("build", "dist", "logs", "adapter");

        /**
         * Why the app-relative {@code path} cannot be a preopen (it lies in one of the {@link #RESERVED}
         * directories), or {@code null}.
         */
        public static String reserved(String path) {
            String first = path.split("/", 2)[0];
            return RESERVED.contains(first)
                    ? "\"" + path + "\" is inside " + first + "/, which the kernel uses (" + String.join("/, ",
                            RESERVED) + "/ cannot be preopened)"
                    : null;
        }

        /**
         * The host directory this preopen stands for, beneath {@code appDir}, symbolic links resolved: the path
         * the worker's view binds and {@code io_open} resolves in. The policy's path is text; a link in the app
         * directory ({@code data -> logs}) would hand the worker a directory the kernel keeps for itself (the
         * console log, the bundle) or one outside the app, so the resolved path is checked again each time a
         * worker starts. A directory that does not exist yet is returned unresolved.
         *
         * @throws IOException saying why the preopen is refused
         */
        public Path resolve(Path appDir) throws IOException {
            Path base = appDir.toAbsolutePath().normalize();
            Path target = base.resolve(path).normalize();
            if (!Files.exists(target)) {
                return target;
            }
            Path realBase = base.toRealPath();
            Path real = target.toRealPath();
            String problem = real.startsWith(realBase) && !real.equals(realBase)
                    ? reserved(realBase.relativize(real).toString())
                    : "\"" + path + "\" resolves to " + real + ", outside the app directory " + realBase;
            if (problem != null) {
                throw new IOException("preopen " + name + ": " + problem + " (a symbolic link in the app "
                        + "directory leads there; point the preopen at a directory of the app's own)");
            }
            return real;
        }
    }

    /**
     * Quotas (docs/limits.md lists every bound the kernel applies, these and the fixed ones).
     *
     * @param tasks        most tasks alive at once (the main task included)
     * @param handles      most handles one task holds: open in its table plus sent in channel messages not yet
     *                     received
     * @param channelBytes most bytes queued in one channel direction
     * @param socketBytes  most bytes queued for sending on one socket
     * @param queuedBytes  most bytes of channel messages one task has sent and nobody has received yet, all its
     *                     channels together, wherever their receiving ends went
     * @param netBytes     most bytes buffered in the kernel for the sockets one task created, send and receive
     *                     queues together (closed sockets still flushing included)
     * @param tmpBytes     size of each task's private temporary filesystem ({@code /tmp} and {@code HOME} in the
     *                     worker's view, one tmpfs, gone when the task ends)
     */
    public record Limits(int tasks, int handles, long channelBytes, long socketBytes, long queuedBytes,
            long netBytes, long tmpBytes) {
        /** Default of {@code queuedBytes}: 16 MiB, sixteen full channels' worth. */
        public static final long DEFAULT_QUEUED_BYTES = 16L << 20;
        /** Default of {@code netBytes}: 64 MiB, eight sockets with both queues full. */
        public static final long DEFAULT_NET_BYTES = 64L << 20;
        /** Default of {@code tmpBytes}: 64 MiB of the host's memory per task (a tmpfs). */
        public static final long DEFAULT_TMP_BYTES = 64L << 20;

        /** Limits with the default {@code queuedBytes}, {@code netBytes} and {@code tmpBytes}. */
        public Limits(int tasks, int handles, long channelBytes, long socketBytes) {
            this(tasks, handles, channelBytes, socketBytes, DEFAULT_QUEUED_BYTES, DEFAULT_NET_BYTES);
        }

        /** Limits with the default {@code tmpBytes}. */
        public Limits(int tasks, int handles, long channelBytes, long socketBytes, long queuedBytes,
                long netBytes) {
            this(tasks, handles, channelBytes, socketBytes, queuedBytes, netBytes, DEFAULT_TMP_BYTES);
        }

        public static Limits defaults() {
            return new Limits(16, 1024, 1L << 20, 4L << 20, DEFAULT_QUEUED_BYTES, DEFAULT_NET_BYTES,
                    DEFAULT_TMP_BYTES);
        }
    }

    /**
     * What happens when a task ends.
     *
     * @param mode       {@code no}, {@code on-failure} (non-zero exit) or {@code always}
     * @param maxRetries restarts allowed before giving up (for {@code on-failure})
     * @param backoffMs  delay before the first restart; doubles after each, up to {@code backoffMaxMs}
     */
    public record RestartPolicy(Mode mode, int maxRetries, long backoffMs, long backoffMaxMs) {
        public enum Mode {
            NO,
            ON_FAILURE,
            ALWAYS;

            /** {@code no}, {@code on-failure} or {@code always}: how the console shows it. */
            public String text() {
                return name().toLowerCase(Locale.ROOT).replace('_', '-');
            }
        }

        public static RestartPolicy never() {
            return new RestartPolicy(Mode.NO, 0, 100, 10_000);
        }
    }

    /**
     * A task the kernel may start besides the main one.
     *
     * @param name    unique name, used by {@code task_spawn} and in console prefixes
     * @param entry   {@code path.py} or {@code path.py:function}
     * @param caps    the most this task may hold (within the app's grant)
     * @param atBoot  whether the kernel starts it at boot or only on {@code task_spawn}
     * @param restart its restart policy
     */
    public record TaskSpec(String name, String entry, long caps, boolean atBoot, RestartPolicy restart) {}
}
