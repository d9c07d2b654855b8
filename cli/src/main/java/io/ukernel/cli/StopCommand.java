package io.ukernel.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ukernel stop NAME...|--all}: stop running apps cleanly, in the host or in the foreground. */
@Command(
        name = "stop",
        header = "Stop running apps cleanly.",
        mixinStandardHelpOptions = true,
        description = {
            "Stop running apps cleanly. An app of the resident host is stopped by the host (its tasks get SIGTERM, "
                    + "then SIGKILL after the grace period) and stays listed by `ukernel ps -a` until `ukernel rm`. "
                    + "A foreground `ukernel run` gets SIGTERM, like Ctrl-C: on the process platform the kernel "
                    + "stops the workers; in a microVM the host presses Ctrl-Alt-Del in the guest, whose kernel "
                    + "does the same and then powers the VM off. Waits until each has ended."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel stop hello               stop the app named hello",
            "  ukernel stop web worker          stop two apps",
            "  ukernel stop --all               stop everything running",
            "  ukernel stop 41872               stop the foreground run with that pid",
            "  ukernel stop hello --kill        SIGKILL if it has not ended after --timeout"
        })
public final class StopCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..*", paramLabel = "NAME",
            description = "The apps' names (as `ukernel ps` shows them), or a foreground run's pid.")
    List<String> names = new ArrayList<>();

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30",
            description = "How long to wait for each to end. Default: ${DEFAULT-VALUE}.")
    double timeout;

    @Option(names = "--kill", description = "SIGKILL the run (and so its VM or workers) if it has not ended in time.")
    boolean kill;

    @Option(names = {"-a", "--all"},
            description = "With no NAME, stop every running app; with names, every foreground run of those names.")
    boolean all;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (names.isEmpty() && !all) {
            throw new UserError("name the apps to stop (`ukernel ps` lists them), or pass --all");
        }
        HostClient client = HostClient.local();
        List<String> hostApps = new ArrayList<>();
        if (client.running()) {
            for (Object o : (List<?>) client.request("GET", "/apps", null)) {
                Map<?, ?> a = (Map<?, ?>) o;
                if (Boolean.TRUE.equals(a.get("running"))) {
                    hostApps.add((String) a.get("name"));
                }
            }
        }
        List<RunRegistry.Entry> fg = RunRegistry.list();
        List<String> targets = names.isEmpty() ? new ArrayList<>(hostApps) : names;
        int failures = 0;
        for (String name : targets) {
            if (hostApps.contains(name)) {
                out.println("Stopping " + name + " (host)...");
                out.flush();
                try {
                    client.request("POST", "/apps/" + name + "/stop?timeout=" + (long) (timeout * 1000), Map.of());
                    out.println("Stopped " + name);
                } catch (UserError e) {
                    out.println(e.getMessage());
                    failures++;
                }
                continue;
            }
            List<RunRegistry.Entry> matches = fg.stream()
                    .filter(e -> e.name().equals(name) || Long.toString(e.pid()).equals(name)).toList();
            if (matches.isEmpty()) {
                List<String> running = new ArrayList<>(hostApps);
                fg.forEach(e -> running.add(e.name()));
                throw new UserError("no running app named " + name + (running.isEmpty() ? " (nothing is running)"
                        : " (running: " + String.join(", ", running) + ")"));
            }
            if (matches.size() > 1 && !all) {
                throw new UserError(matches.size() + " runs of " + name + " (pids " + matches.stream()
                        .map(e -> Long.toString(e.pid())).reduce((a, b) -> a + ", " + b).orElse("")
                        + "): name one by pid, or pass --all");
            }
            for (RunRegistry.Entry e : matches) {
                failures += stop(e, out) ? 0 : 1;
            }
        }
        if (names.isEmpty()) {
            for (RunRegistry.Entry e : fg) {
                failures += stop(e, out) ? 0 : 1;
            }
            if (targets.isEmpty() && fg.isEmpty()) {
                out.println("Nothing is running.");
            }
        }
        out.flush();
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
