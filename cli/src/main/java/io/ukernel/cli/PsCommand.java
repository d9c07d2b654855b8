package io.ukernel.cli;

import io.ukernel.app.json.Json;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ukernel ps}: the apps of the resident host and the foreground runs on this machine. */
@Command(
        name = "ps",
        header = "List the apps running on this machine.",
        mixinStandardHelpOptions = true,
        description = {
            "List the apps the resident host runs (`ukernel run -d`) and the foreground `ukernel run`s of this "
                    + "user, on either platform: name, status (running, restarting, exited (N)), uptime, tasks, "
                    + "restarts, ports the app may bind, CPU time and resident memory of its workers, and where it "
                    + "runs. Foreground runs are read from ~/.ukernel/run/ ($UKERNEL_RUN_DIR overrides)."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel ps                 what is running",
            "  ukernel ps -a              also the host's apps that ended",
            "  ukernel ps --json          for scripts",
            "  ukernel stop hello         stop it cleanly"
        })
public final class PsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-q", "--quiet"}, description = "Print only the names.")
    boolean quiet;

    @Option(names = {"-a", "--all"}, description = "Also list the host's apps that ended (until `ukernel rm`).")
    boolean all;

    @Option(names = "--json", description = "One JSON array: the host's app objects (as GET /apps) and the "
            + "foreground runs (\"where\": \"foreground\").")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<Map<String, Object>> rows = new ArrayList<>();
        HostClient client = HostClient.local();
        if (client.running()) {
            try {
                for (Object o : (List<?>) client.request("GET", "/apps", null)) {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> a = (Map<String, Object>) o;
                    if (all || Boolean.TRUE.equals(a.get("running"))) {
                        a.put("where", "host");
                        rows.add(a);
                    }
                }
            } catch (IOException e) {
                spec.commandLine().getErr().println("ukernel ps: the host did not answer: " + e.getMessage());
            }
        }
        for (RunRegistry.Entry e : RunRegistry.list()) {
            Map<String, Object> a = new LinkedHashMap<>();
            a.put("name", e.name());
            a.put("status", "running");
            a.put("running", true);
            a.put("where", "foreground");
            a.put("pid", e.pid());
            a.put("platform", e.vmm().isEmpty() ? e.platform() : e.platform() + " (" + e.vmm() + ")");
            a.put("started", e.started().toString());
            a.put("uptime_s", Math.max(0, Duration.between(e.started(), Instant.now()).toSeconds()));
            a.put("ports", e.ports());
            a.put("dir", e.appDir());
            rows.add(a);
        }
        if (json) {
            out.println(Json.write(rows));
        } else if (quiet) {
            rows.forEach(r -> out.println(r.get("name")));
        } else if (rows.isEmpty()) {
            out.println(all ? "No apps." : "No apps running.");
        } else {
            String fmt = "%-16s %-13s %8s %5s %8s  %-18s %8s %9s  %s%n";
            out.printf(Locale.ROOT, fmt, "NAME", "STATUS", "UPTIME", "TASKS", "RESTARTS", "PORTS", "CPU", "MEM",
                    "WHERE");
            for (Map<String, Object> r : rows) {
                boolean host = "host".equals(r.get("where"));
                String ports = String.valueOf(r.getOrDefault("ports", ""));
                out.printf(Locale.ROOT, fmt, r.get("name"), r.get("status"),
                        uptimeSeconds(((Number) r.get("uptime_s")).longValue()),
                        host ? Integer.toString(liveTasks(r)) : "-",
                        host ? r.get("restarts").toString() : "-",
                        ports.isEmpty() ? "-" : ports,
                        host ? cpu(((Number) r.get("cpu_ms")).longValue()) : "-",
                        host ? mem(((Number) r.get("rss_bytes")).longValue()) : "-",
                        host ? "host" : "fg pid " + r.get("pid") + " " + r.get("platform"));
            }
        }
        out.flush();
        return 0;
    }

    private static int liveTasks(Map<String, Object> r) {
        int n = 0;
        for (Object t : (List<?>) r.getOrDefault("tasks", List.of())) {
            if (!"exited".equals(((Map<?, ?>) t).get("state"))) {
                n++;
            }
        }
        return n;
    }

    static String uptime(Instant started) {
        return uptimeSeconds(Math.max(0, Duration.between(started, Instant.now()).toSeconds()));
    }

    static String uptimeSeconds(long s) {
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return (s / 60) + "m" + String.format(Locale.ROOT, "%02d", s % 60) + "s";
        }
        return (s / 3600) + "h" + String.format(Locale.ROOT, "%02d", (s / 60) % 60) + "m";
    }

    static String cpu(long ms) {
        return String.format(Locale.ROOT, "%.2fs", ms / 1000.0);
    }

    static String mem(long bytes) {
        return bytes >= 1 << 20 ? String.format(Locale.ROOT, "%.1fMiB", bytes / 1048576.0) : (bytes / 1024) + "KiB";
    }
}
