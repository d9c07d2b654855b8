package io.ukernel.platform.spi;

import java.nio.file.Path;
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
 */
public record WorkerSpec(int taskId, String taskName, String entry, Path bundleDir, Path endpoint, String token,
        Map<String, String> env) {
    public WorkerSpec {
        env = Map.copyOf(env);
    }
}
