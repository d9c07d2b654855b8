package io.ukernel.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ukernel ps}: the apps running on this machine, on either platform. */
@Command(
        name = "ps",
        header = "List the apps running on this machine.",
        mixinStandardHelpOptions = true,
        description = {
            "List the apps `ukernel run` is running on this machine: name, pid of the run, platform (process or "
                    + "microvm with its VMM), uptime, published ports and directory. Reads ~/.ukernel/run/ "
                    + "($UKERNEL_RUN_DIR overrides)."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel ps                 what is running",
            "  ukernel stop hello         stop it cleanly"
        })
public final class PsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-q", "--quiet"}, description = "Print only the names.")
    boolean quiet;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        List<RunRegistry.Entry> running = RunRegistry.list();
        if (quiet) {
            running.forEach(e -> out.println(e.name()));
        } else if (running.isEmpty()) {
            out.println("No apps running.");
        } else {
            out.printf(Locale.ROOT, "%-16s %8s  %-20s %9s  %-24s %s%n", "NAME", "PID", "PLATFORM", "UPTIME", "PORTS",
                    "APP");
            for (RunRegistry.Entry e : running) {
                String platform = e.vmm().isEmpty() ? e.platform() : e.platform() + " (" + e.vmm() + ")";
                out.printf(Locale.ROOT, "%-16s %8d  %-20s %9s  %-24s %s%n", e.name(), e.pid(), platform,
                        uptime(e.started()), e.ports().isEmpty() ? "-" : e.ports(), InitCommand.display(
                                java.nio.file.Path.of(e.appDir())));
            }
        }
        out.flush();
        return 0;
    }

    static String uptime(Instant started) {
        long s = Math.max(0, Duration.between(started, Instant.now()).toSeconds());
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return (s / 60) + "m" + String.format(Locale.ROOT, "%02d", s % 60) + "s";
        }
        return (s / 3600) + "h" + String.format(Locale.ROOT, "%02d", (s / 60) % 60) + "m";
    }
}
