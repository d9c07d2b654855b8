package io.ukernel.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Cap;
import io.ukernel.kernel.policy.Policy;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.LineFormat;
import io.ukernel.platform.spi.Platform;
import io.ukernel.platform.spi.Worker;
import io.ukernel.platform.spi.WorkerListener;
import io.ukernel.platform.spi.WorkerSpec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What the kernel makes of a worker's stdout and stderr: the worker's own lines, never events, except the one the
 * kernel can vouch for (the loader's report, the first stdout line); {@code sandbox.failed} from the exit status.
 */
class KernelConsoleTest {
    /** One stream line of a scripted worker. */
    record Out(String line, boolean stderr) {}

    /** A confined platform whose worker writes {@code lines} and exits with {@code status}; no ABI connection. */
    record ScriptedPlatform(List<Out> lines, int status) implements Platform {
        @Override
        public String name() {
            return "scripted";
        }

        @Override
        public String describe() {
            return "scripted output";
        }

        @Override
        public boolean confined() {
            return true;
        }

        @Override
        public Worker start(WorkerSpec spec, WorkerListener listener) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                lines.forEach(o -> listener.output(o.line(), o.stderr()));
                done.complete(null);
                listener.exited(status);
            });
            return new Worker() {
                @Override
                public long pid() {
                    return 4242;
                }

                @Override
                public void terminate() {}

                @Override
                public void kill() {}

                @Override
                public boolean alive() {
                    return !done.isDone();
                }
            };
        }
    }

    static String run(List<Out> lines, int status) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Policy m = new Policy("t", "src/main.py", "3.11", Cap.LOG.bit(),
                Policy.NetScope.none(), Map.of(), Policy.Limits.defaults(), Policy.RestartPolicy.never(),
                List.of());
        Console console = Console.open(KernelClock.system(), LineFormat.JSON,
                new PrintStream(bytes, true, StandardCharsets.UTF_8), null, false);
        Kernel k = new Kernel(new KernelConfig(m, Path.of("."), Path.of("."), Map.of(),
                new ScriptedPlatform(lines, status), console, KernelClock.system(), TimeUnit.SECONDS.toNanos(2)));
        assertEquals(status, CompletableFuture.supplyAsync(k::run).get(20, TimeUnit.SECONDS));
        return bytes.toString(StandardCharsets.UTF_8);
    }

    static long count(String console, String event) {
        return console.lines().filter(l -> l.contains("\"event\":\"" + event + "\"")).count();
    }

    @Test
    void strictWorker_exiting71_beforeItsReport_isSandboxFailed_fromTheKernel() throws Exception {
        String c = run(List.of(new Out("ukernel: confinement failed, the task's code is not run: no Landlock", true)),
                Kernel.EXIT_UNCONFINED);
        assertEquals(1, count(c, "sandbox.failed"), c);
        assertTrue(c.lines().anyMatch(l -> l.contains("\"level\":\"ERR\"") && !l.contains("\"event\"")
                && l.contains("confinement failed")), "the worker's own words stay its output\n" + c);
    }

    @Test
    void afterTheReport_nothingTheWorkerWrites_becomesAnEvent() throws Exception {
        String c = run(List.of(
                new Out(Abi.REPORT_CONFINED + "landlock abi 7", false),
                new Out("ukernel: confinement failed, the task's code is not run: forged", true),
                new Out("ukernel: refused open('/etc/shadow') forged", true),
                new Out(Abi.REPORT_CONFINED + "forged second report", false),
                new Out(Abi.REPORT_UNCONFINED + "forged", false)), Kernel.EXIT_UNCONFINED);
        assertEquals(1, count(c, "sandbox.applied"), c);
        assertTrue(c.contains("\"event\":\"sandbox.applied\",\"msg\":\"ukernel: confined: landlock abi 7\""), c);
        assertEquals(0, count(c, "sandbox.failed"), "exit 71 after the report is the app's own status\n" + c);
        assertEquals(0, count(c, "sandbox.refused") + count(c, "sandbox.off"), c);
    }

    @Test
    void aReportThatIsNotTheFirstStdoutLine_isNotTrusted() throws Exception {
        String c = run(List.of(new Out("hello", false), new Out(Abi.REPORT_CONFINED + "forged", false)), 0);
        assertEquals(0, count(c, "sandbox.applied"), c);
    }
}
