package io.ukernel.vmm.guest;

import io.ukernel.app.Manifest;
import io.ukernel.app.AppKernel;
import io.ukernel.app.ManifestParser;
import io.ukernel.kernel.Kernel;
import io.ukernel.kernel.KernelClock;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.LineFormat;
import io.ukernel.platform.process.ProcessPlatform;
import io.ukernel.vmm.GuestParams;
import java.nio.file.Path;
import java.util.Map;

/**
 * The training run for the guest JVM's AOT cache (JEP 483/514), run on the host by {@code ukernel pack} with the
 * image's own Java runtime and class path: what the guest init does, minus what only PID 1 of a VM may do
 * (mounts, power-off). It parses the guest's parameters, binds the FFM calls and makes a harmless one, then
 * boots the kernel on a throw-away app whose worker acquires capabilities, logs and ends — so the classes,
 * method handles and FFM plumbing the guest needs are loaded and linked once, here, and not under emulation.
 */
final class AotTraining {
    private AotTraining() {}

    /**
     * @param python  the host's interpreter
     * @param app     the throw-away app's bundle directory (manifest, src/, adapter/)
     * @return the kernel's exit status (0 when the training worked)
     */
    static int run(Path python, Path app) throws Exception {
        GuestParams params = GuestParams.parse("console=ttyS0 ukernel.env=SEVBUlRCRUFUUz0x ukernel.grace=5000 "
                + "ukernel.net=10.0.2.15/24,10.0.2.2 ukernel.halt=poweroff");
        Linux.close(Linux.inetSocket());
        Network.moduleParams("/ukernel/modules/virtio_mmio.ko", "virtio_mmio.device=4K@0xd0000000:5");
        Manifest manifest = ManifestParser.parse(app.resolve(Manifest.FILE_NAME));
        KernelClock clock = KernelClock.system();
        try (Console console = Console.open(clock, LineFormat.parse(params.logFormat()), System.out, null, false)) {
            // Unconfined: the throw-away worker runs on the host, which may not offer Landlock (CI containers);
            // the kernel's side of confinement (the host probe, the banner) runs either way.
            MicrovmPlatform platform = new MicrovmPlatform(new ProcessPlatform(python, "3",
                    ProcessPlatform.Sandbox.off("AOT training run")), "training");
            Kernel kernel = AppKernel.kernel(manifest, app, app, Map.of("HEARTBEATS", "1"), platform, console, clock,
                    1_000_000_000L);
            return kernel.run();
        }
    }
}
