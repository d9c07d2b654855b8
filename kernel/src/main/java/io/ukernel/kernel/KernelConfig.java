package io.ukernel.kernel;

import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.platform.spi.Platform;
import java.nio.file.Path;
import java.util.Map;

/**
 * What a kernel boots with.
 *
 * @param policy    what the kernel enforces and starts (grant, scopes, limits, tasks, restart)
 * @param bundleDir the extracted bundle the workers run from
 * @param appDir    the app's directory: the policy's preopen paths are relative to it (on the process
 *                  platform the project directory; in a microVM image, where the image puts the app's data)
 * @param env       the app's environment for its workers
 * @param platform  where workers run
 * @param console   where console lines go
 * @param clock     the kernel's clocks (the console's too)
 * @param graceNs   how long a stopping worker gets between SIGTERM and SIGKILL
 */
public record KernelConfig(Policy policy, Path bundleDir, Path appDir, Map<String, String> env, Platform platform,
        Console console, KernelClock clock, long graceNs) {
    public KernelConfig {
        env = Map.copyOf(env);
    }
}
