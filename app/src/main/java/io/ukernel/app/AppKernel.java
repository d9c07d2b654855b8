package io.ukernel.app;

import io.ukernel.kernel.Kernel;
import io.ukernel.kernel.KernelClock;
import io.ukernel.kernel.KernelConfig;
import io.ukernel.kernel.console.Console;
import io.ukernel.platform.process.ProcessPlatform;
import io.ukernel.platform.spi.Platform;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The one place an app becomes a {@link Kernel}, on every platform: {@code ukernel run} and the resident host
 * (cli {@code AppLaunch}), the microVM guest ({@code GuestInit}, its AOT training run) and the OCI container
 * ({@code ContainerInit}). Each platform brings where workers run and where the console goes; the policy, the
 * sandbox decision and the kernel's configuration come from here.
 */
public final class AppKernel {
    private AppKernel() {}

    /**
     * The workers' confinement the manifest asks for: strict (with its {@code [sandbox] namespaces}) unless the
     * manifest turns it off or the user passed {@code --insecure-no-sandbox}.
     */
    public static ProcessPlatform.Sandbox sandbox(Manifest manifest, boolean insecureNoSandbox) {
        if (insecureNoSandbox) {
            return ProcessPlatform.Sandbox.off("--insecure-no-sandbox");
        }
        Manifest.Sandbox s = manifest.sandbox();
        if (s.mode() == Manifest.Sandbox.Mode.OFF) {
            return ProcessPlatform.Sandbox.off("[sandbox] mode = \"off\" in " + Manifest.FILE_NAME);
        }
        return new ProcessPlatform.Sandbox(true, null, s.namespaces().text());
    }

    /**
     * The kernel for {@code manifest}'s app.
     *
     * @param bundleDir the extracted bundle the workers run from
     * @param appDir    the app's directory (preopen paths are relative to it)
     * @param env       the workers' environment
     * @param platform  where workers run
     * @param console   where console lines go
     * @param clock     the kernel's clocks
     * @param graceNs   how long a stopping worker gets between SIGTERM and SIGKILL
     */
    public static Kernel kernel(Manifest manifest, Path bundleDir, Path appDir, Map<String, String> env,
            Platform platform, Console console, KernelClock clock, long graceNs) throws IOException {
        return new Kernel(new KernelConfig(ManifestPolicy.of(manifest), bundleDir, appDir, env, platform, console,
                clock, graceNs));
    }
}
