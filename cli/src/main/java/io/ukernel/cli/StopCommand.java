package io.ukernel.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ukernel stop NAME}: stop a running app cleanly. */
@Command(
        name = "stop",
        header = "Stop a running app cleanly.",
        mixinStandardHelpOptions = true,
        description = {
            "Stop a running app cleanly: its `ukernel run` gets SIGTERM, like Ctrl-C. On the process platform the "
                    + "kernel stops the workers (SIGTERM, then SIGKILL after the grace period); in a microVM the "
                    + "host presses Ctrl-Alt-Del in the guest, whose kernel does the same and then powers the VM "
                    + "off. Waits until it has ended."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel stop hello               stop the app named hello",
            "  ukernel stop 41872               stop the run with that pid",
            "  ukernel stop hello --kill        SIGKILL if it has not ended after --timeout"
        })
public final class StopCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NAME", description = "The app's name (as `ukernel ps` shows it) or the pid.")
    String name;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "How long to wait for it to end. Default: ${DEFAULT-VALUE}.")
    double timeout;

    @Option(names = "--kill", description = "SIGKILL the run (and so its VM or workers) if it has not ended in time.")
    boolean kill;

    @Option(names = "--all", description = "Stop every run of that name (when several run).")
    boolean all;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<RunRegistry.Entry> matches = RunRegistry.list().stream()
                .filter(e -> e.name().equals(name) || Long.toString(e.pid()).equals(name)).toList();
        if (matches.isEmpty()) {
            List<String> running = RunRegistry.list().stream().map(RunRegistry.Entry::name).toList();
            throw new UserError("no running app named " + name + (running.isEmpty() ? " (nothing is running)"
                    : " (running: " + String.join(", ", running) + ")"));
        }
        if (matches.size() > 1 && !all) {
            throw new UserError(matches.size() + " runs of " + name + " (pids " + matches.stream()
                    .map(e -> Long.toString(e.pid())).reduce((a, b) -> a + ", " + b).orElse("")
                    + "): name one by pid, or pass --all");
        }
        int failures = 0;
        for (RunRegistry.Entry e : matches) {
            failures += stop(e, out) ? 0 : 1;
        }
        return failures == 0 ? 0 : 1;
    }

    private boolean stop(RunRegistry.Entry e, PrintWriter out) throws InterruptedException {
        ProcessHandle ph = ProcessHandle.of(e.pid()).orElse(null);
        if (ph == null || !ph.isAlive()) {
            out.println(e.name() + " (pid " + e.pid() + ") had already ended");
            return true;
        }
        out.println("Stopping " + e.name() + " (pid " + e.pid() + ", " + e.platform()
                + (e.vmm().isEmpty() ? "" : " " + e.vmm()) + ")...");
        out.flush();
        ph.destroy();
        CompletableFuture<ProcessHandle> exit = ph.onExit();
        try {
            exit.get((long) (timeout * 1000), TimeUnit.MILLISECONDS);
            out.println("Stopped " + e.name());
            return true;
        } catch (TimeoutException t) {
            if (kill) {
                ph.destroyForcibly();
                out.println("Killed " + e.name() + " (it did not stop within " + timeout + " s)");
                return true;
            }
            out.println(e.name() + " did not stop within " + timeout + " s (rerun with --kill to force it)");
            return false;
        } catch (java.util.concurrent.ExecutionException t) {
            return true;
        } finally {
            out.flush();
        }
    }
}
