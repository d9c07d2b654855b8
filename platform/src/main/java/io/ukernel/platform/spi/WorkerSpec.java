package io.ukernel.platform.spi;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Everything a platform needs to start one worker for one task.
 *
 * @param taskId    the kernel's id of the task (for messages)
 * @param taskName  the task's name
 * @param entry     the task's entry ({@code file.py} or {@code file.py:function}), as the kernel resolved it
 * @param bundleDir the extracted bundle: the worker's working directory (holds ukernel.toml, src/, adapter/)
 * @param endpoint  the kernel's Unix socket the worker connects to
 * @param token     the hex handshake token binding the connection to this task
 * @param env       the app's environment (env/ukernel.env and -e options); the platform adds the ABI variables
 * @param preopens  the manifest's preopens, as absolute host directories: the worker sees each by path (read-only,
 *                  or read-write when the preopen says so)
 * @param tmpBytes  the size of the task's private temporary filesystem ({@code limits.tmp_bytes})
 * @param programs  the host files the task's children may run ({@code [caps] subprocess}, resolved)
 * @param sockets   whether the task may ever use the network (its ceiling holds NET): only then may a confined
 *                  worker make sockets itself, each bind/connect decided by the kernel where the platform can
 *                  supervise them; otherwise the filter keeps refusing {@code socket()} (no supervisor to reach)
 */
public record WorkerSpec(int taskId, String taskName, String entry, Path bundleDir, Path endpoint, String token,
        Map<String, String> env, List<Dir> preopens, long tmpBytes, List<Path> programs, boolean sockets) {
    /** Default of {@link #tmpBytes} where the caller names none: 64 MiB. */
    public static final long DEFAULT_TMP_BYTES = 64L << 20;

    public WorkerSpec {
        env = Map.copyOf(env);
        preopens = List.copyOf(preopens);
        programs = List.copyOf(programs);
    }

    /** A spec whose task may not make sockets itself. */
    public WorkerSpec(int taskId, String taskName, String entry, Path bundleDir, Path endpoint, String token,
            Map<String, String> env, List<Dir> preopens, long tmpBytes, List<Path> programs) {
        this(taskId, taskName, entry, bundleDir, endpoint, token, env, preopens, tmpBytes, programs, false);
    }

    /** A spec whose task may run no programs. */
    public WorkerSpec(int taskId, String taskName, String entry, Path bundleDir, Path endpoint, String token,
            Map<String, String> env, List<Dir> preopens, long tmpBytes) {
        this(taskId, taskName, entry, bundleDir, endpoint, token, env, preopens, tmpBytes, List.of());
    }

    /** A spec with no preopens and the default temporary filesystem size. */
    public WorkerSpec(int taskId, String taskName, String entry, Path bundleDir, Path endpoint, String token,
            Map<String, String> env) {
        this(taskId, taskName, entry, bundleDir, endpoint, token, env, List.of(), DEFAULT_TMP_BYTES);
    }

    /**
     * A preopen as the worker sees it.
     *
     * @param name     its name in the manifest
     * @param path     the absolute host directory
     * @param writable whether the worker may write beneath it
     */
    public record Dir(String name, Path path, boolean writable) {}
}
