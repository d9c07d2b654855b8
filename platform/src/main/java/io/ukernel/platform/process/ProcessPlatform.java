package io.ukernel.platform.process;

import io.ukernel.abi.Abi;
import io.ukernel.platform.spi.Platform;
import io.ukernel.platform.spi.Worker;
import io.ukernel.platform.spi.WorkerListener;
import io.ukernel.platform.spi.WorkerSpec;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * Runs each worker as a host {@code python3} process executing the bundle's loader in isolated mode
 * ({@code -I -S}: no site, no user site, no {@code PYTHON*} variables, so no code but the loader's runs before it
 * connects to the kernel). The environment is built from scratch: the app's variables plus the ABI endpoint and
 * token, never the kernel's own environment.
 */
public final class ProcessPlatform implements Platform {
    /** Path of the loader script inside an extracted bundle. */
    public static final String BOOT_SCRIPT = "adapter/ukernel/_boot.py";

    private final Path python;
    private final String pythonVersion;

    /**
     * @param python        the real interpreter executable (not a shim)
     * @param pythonVersion its version, for the banner
     */
    public ProcessPlatform(Path python, String pythonVersion) {
        this.python = python;
        this.pythonVersion = pythonVersion;
    }

    @Override
    public String name() {
        return "process";
    }

    @Override
    public String describe() {
        return "python " + pythonVersion + " (" + python + "), isolated mode -I -S; confinement: none "
                + "(Landlock/seccomp arrive with the confinement work; the worker can reach the host)";
    }

    @Override
    public Worker start(WorkerSpec spec, WorkerListener listener) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command(spec));
        pb.directory(spec.bundleDir().toFile());
        Map<String, String> env = pb.environment();
        env.clear();
        env.putAll(baseEnvironment());
        env.putAll(spec.env());
        env.put(Abi.ENV_ENDPOINT, spec.endpoint().toString());
        env.put(Abi.ENV_TOKEN, spec.token());
        env.put("UKERNEL_TASK", spec.taskName());
        // The kernel already resolved the entry from the manifest; passing it spares the loader a TOML parse.
        env.put("UKERNEL_ENTRY", spec.entry());
        env.put("UKERNEL_KERNEL_PID", Long.toString(ProcessHandle.current().pid()));
        Process process = pb.start();
        process.getOutputStream().close();
        ProcessWorker worker = new ProcessWorker(process);
        CountDownLatch drained = new CountDownLatch(2);
        pump(process.getInputStream(), false, listener, drained, spec);
        pump(process.getErrorStream(), true, listener, drained, spec);
        // Report the exit only after both pipes are drained, so the last lines precede the exit line.
        process.onExit().thenRun(() -> {
            awaitQuietly(drained);
            listener.exited(process.exitValue());
        });
        return worker;
    }

    private List<String> command(WorkerSpec spec) {
        List<String> cmd = new ArrayList<>();
        cmd.add(python.toString());
        cmd.add("-I");
        cmd.add("-S");
        cmd.add(spec.bundleDir().resolve(BOOT_SCRIPT).toString());
        return cmd;
    }

    private static Map<String, String> baseEnvironment() {
        return Map.of("PATH", "/usr/local/bin:/usr/bin:/bin", "LANG", "C.UTF-8", "LC_ALL", "C.UTF-8");
    }

    private static void pump(InputStream in, boolean stderr, WorkerListener listener, CountDownLatch drained,
            WorkerSpec spec) {
        Thread.ofVirtual().name("task-" + spec.taskId() + (stderr ? "-stderr" : "-stdout")).start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    listener.output(line, stderr);
                }
            } catch (IOException e) {
                listener.output("ukernel: lost the worker's " + (stderr ? "stderr" : "stdout") + ": " + e, true);
            } finally {
                drained.countDown();
            }
        });
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            // A grandchild holding the pipes open must not hide the worker's exit forever.
            latch.await(2, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private record ProcessWorker(Process process) implements Worker {
        @Override
        public long pid() {
            return process.pid();
        }

        @Override
        public void terminate() {
            process.destroy();
        }

        @Override
        public void kill() {
            process.destroyForcibly();
        }

        @Override
        public boolean alive() {
            return process.isAlive();
        }
    }
}
