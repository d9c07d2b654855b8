package io.ukernel.kernel;

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
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A test platform whose workers are a native executable (the compiled C worker) started as a real host process.
 * Its environment is built from scratch and holds only the ABI variables of the {@link WorkerSpec}: nothing of
 * the test JVM's environment leaks into the worker. Its stdout and stderr are pumped into the listener line by
 * line, and its exit status is reported once both pipes are drained.
 */
final class CWorkerPlatform implements Platform {
    private final Path executable;

    CWorkerPlatform(Path executable) {
        this.executable = executable;
    }

    @Override
    public String name() {
        return "c-worker";
    }

    @Override
    public String describe() {
        return "native test worker " + executable.getFileName() + " (no confinement)";
    }

    @Override
    public Worker start(WorkerSpec spec, WorkerListener listener) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(List.of(executable.toString()));
        pb.directory(spec.bundleDir().toFile());
        Map<String, String> env = pb.environment();
        env.clear();
        env.put(Abi.ENV_ENDPOINT, spec.endpoint().toString());
        env.put(Abi.ENV_TOKEN, spec.token());
        Process process = pb.start();
        process.getOutputStream().close();
        CountDownLatch drained = new CountDownLatch(2);
        pump(process.getInputStream(), false, listener, drained, spec);
        pump(process.getErrorStream(), true, listener, drained, spec);
        process.onExit().thenRun(() -> {
            try {
                // the pipes end with the process (the C worker starts no other); the bound only guards a hang
                drained.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            listener.exited(process.exitValue());
        });
        return new Worker() {
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
        };
    }

    private static void pump(InputStream in, boolean stderr, WorkerListener listener, CountDownLatch drained,
            WorkerSpec spec) {
        Thread.ofVirtual().name("c-worker-" + spec.taskId() + (stderr ? "-stderr" : "-stdout")).start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    listener.output(line, stderr);
                }
            } catch (IOException e) {
                listener.output("c-worker platform: lost the worker's " + (stderr ? "stderr" : "stdout") + ": " + e,
                        true);
            } finally {
                drained.countDown();
            }
        });
    }
}
