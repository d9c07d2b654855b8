package io.ukernel.cli;

import io.ukernel.abi.Family;
import io.ukernel.kernel.Kernel;
import io.ukernel.kernel.KernelMetrics;
import io.ukernel.kernel.Version;
import io.ukernel.app.json.Json;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The host's API, HTTP + JSON in the shape of Docker's engine API: routes to {@link Host}. Requests in, responses
 * out, no sockets (unit tests call {@link #handle} directly).
 *
 * <pre>
 * GET    /                      status page (HTML)
 * GET    /host                  the host: pid, version, started, apps
 * POST   /host/stop             stop every app, then the host
 * GET    /apps                  every app (JSON array; running and exited)
 * POST   /apps                  run an app: {"dir", "name", "env", "rm", "insecure_no_sandbox", "grace", "debug"}
 * GET    /apps/{name}           one app
 * POST   /apps/{name}/stop      stop it (?timeout=ms), keep it listed
 * POST   /apps/{name}/restart   stop it and boot it again
 * DELETE /apps/{name}           forget it (?force=1 stops a running one first)
 * GET    /apps/{name}/logs      its current instance's console log (?tail=N lines)
 * GET    /metrics               Prometheus text format
 * </pre>
 *
 * A request marked read-only (the loopback TCP listener of {@code --http}) may only GET, and only for a loopback
 * name ({@link #loopbackHost}): a web page whose own name an attacker re-resolved to 127.0.0.1 (DNS rebinding)
 * would otherwise read every app's logs and the metrics through the operator's browser.
 */
final class HostApi {
    private final Host host;
    private final Runnable shutdown;
    private volatile Runnable afterShutdown = () -> { };
    private volatile boolean shutdownAnswered;

    HostApi(Host host, Runnable shutdown) {
        this.host = host;
        this.shutdown = shutdown;
    }

    /** What runs once the answer to POST /host/stop was written (the host's exit). */
    void afterShutdown(Runnable r) {
        afterShutdown = r;
    }

    /** Called by the server after each response: ends the host once POST /host/stop was answered. */
    void answered() {
        if (shutdownAnswered) {
            afterShutdown.run();
        }
    }

    HostHttp.Response handle(HostHttp.Request r, boolean readOnly) {
        try {
            if (readOnly && !r.method().equals("GET")) {
                return error(403, "this listener is read-only: control the host through its Unix socket "
                        + "(the ukernel command)");
            }
            String problem = readOnly ? loopbackHost(r.headers().get("host")) : null;
            if (problem != null) {
                return error(403, problem);
            }
            return route(r);
        } catch (HostHttp.BadRequest e) {
            return error(400, e.getMessage());
        } catch (UserError e) {
            return error(e.getMessage().startsWith("no app named") ? 404 : 409, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error(503, "interrupted");
        } catch (Exception e) {
            return error(500, "host error: " + e);
        }
    }

    /**
     * Why the loopback TCP listener refuses a request with this {@code Host} header, or null: it must name a
     * loopback address literally ({@code 127.x.x.x}, {@code [::1]}) or {@code localhost}, with any port. Any
     * other name is what a page of another site sends after its DNS name was re-pointed at this port; no name is
     * ever resolved here.
     */
    static String loopbackHost(String header) {
        if (header == null || header.isEmpty()) {
            return "no Host header: this listener answers HTTP/1.1 requests for 127.0.0.1, [::1] or localhost";
        }
        String h = header.trim().toLowerCase(Locale.ROOT);
        String name;
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            name = end < 0 ? h : h.substring(1, end);
            String rest = end < 0 ? "x" : h.substring(end + 1);
            if (!rest.isEmpty() && !rest.matches(":[0-9]{1,5}")) {
                name = h;
            }
        } else {
            int colon = h.indexOf(':');
            name = colon < 0 ? h : h.substring(0, colon);
            if (colon >= 0 && !h.substring(colon).matches(":[0-9]{1,5}")) {
                name = h;
            }
        }
        boolean loopback = name.equals("localhost") || name.equals("::1") || name.equals("0:0:0:0:0:0:0:1")
                || name.matches("127\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]"
                        + "|[1-9]?[0-9])){2}");
        return loopback ? null : "Host \"" + header + "\" is not a loopback name: this listener answers requests for "
                + "127.0.0.1, [::1] or localhost only (a page of another site whose name was re-pointed at this "
                + "port must not read the apps' logs); open it as http://127.0.0.1:PORT/";
    }

    private HostHttp.Response route(HostHttp.Request r) throws Exception {
        String m = r.method();
        String[] parts = r.path().replaceAll("^/+|/+$", "").split("/");
        if (r.path().equals("/") || r.path().isEmpty()) {
            return only(m, "GET", () -> HostHttp.Response.text(200, "text/html; charset=utf-8",
                    StatusPage.html(host, this)));
        }
        switch (parts[0]) {
            case "metrics":
                return only(m, "GET", () -> HostHttp.Response.text(200, Prometheus.CONTENT_TYPE, metrics()));
            case "host":
                if (parts.length == 1) {
                    return only(m, "GET", () -> HostHttp.Response.json(200, Json.write(hostInfo())));
                }
                if (parts.length == 2 && parts[1].equals("stop")) {
                    return only(m, "POST", () -> {
                        shutdown.run();
                        shutdownAnswered = true;
                        return HostHttp.Response.json(200, "{\"stopping\":true}");
                    });
                }
                break;
            case "apps":
                if (parts.length == 1) {
                    if (m.equals("GET")) {
                        List<Object> list = new ArrayList<>();
                        for (Host.App a : host.apps()) {
                            list.add(appJson(a));
                        }
                        return HostHttp.Response.json(200, Json.write(list));
                    }
                    if (m.equals("POST")) {
                        Host.App a = host.run(runRequest(r.bodyText()));
                        return HostHttp.Response.json(201, Json.write(appJson(a)));
                    }
                    return error(405, m + " /apps: use GET or POST");
                }
                Host.App app = host.get(parts[1]);
                if (app == null) {
                    return error(404, "no app named " + parts[1] + names());
                }
                long timeout = r.intParam("timeout", 30_000);
                if (parts.length == 2) {
                    if (m.equals("GET")) {
                        return HostHttp.Response.json(200, Json.write(appJson(app)));
                    }
                    if (m.equals("DELETE")) {
                        host.remove(app.name, "1".equals(r.query().get("force")), timeout);
                        return new HostHttp.Response(204, "application/json", new byte[0]);
                    }
                    return error(405, m + " /apps/NAME: use GET or DELETE");
                }
                if (parts.length == 3) {
                    switch (parts[2]) {
                        case "stop":
                            return only(m, "POST", () -> {
                                boolean ended = app.stop(timeout);
                                if (!ended) {
                                    return error(409, app.name + " did not stop within " + timeout + " ms");
                                }
                                return HostHttp.Response.json(200, Json.write(appJson(app)));
                            });
                        case "restart":
                            return only(m, "POST", () -> HostHttp.Response.json(200,
                                    Json.write(appJson(host.restart(app.name, timeout)))));
                        case "logs":
                            return only(m, "GET", () -> HostHttp.Response.text(200, "text/plain; charset=utf-8",
                                    tail(app, r.intParam("tail", -1))));
                        default:
                            break;
                    }
                }
                break;
            default:
                break;
        }
        return error(404, "no route " + m + " " + r.path());
    }

    private String names() {
        List<String> names = host.apps().stream().map(a -> a.name).toList();
        return names.isEmpty() ? " (the host runs no apps)" : " (apps: " + String.join(", ", names) + ")";
    }

    interface Action {
        HostHttp.Response run() throws Exception;
    }

    private static HostHttp.Response only(String method, String allowed, Action a) throws Exception {
        if (!method.equals(allowed)) {
            return error(405, "use " + allowed);
        }
        return a.run();
    }

    static HostHttp.Response error(int status, String message) {
        return HostHttp.Response.json(status, Json.write(Map.of("message", message)));
    }

    /** Parses POST /apps's body. */
    static Host.RunRequest runRequest(String body) throws HostHttp.BadRequest {
        Map<String, Object> m;
        try {
            m = Json.readObject(body);
        } catch (RuntimeException e) {
            throw new HostHttp.BadRequest("the body must be a JSON object: " + e.getMessage());
        }
        if (!(m.get("dir") instanceof String dir) || dir.isEmpty() || !Path.of(dir).isAbsolute()) {
            throw new HostHttp.BadRequest("\"dir\" must be the app directory's absolute path");
        }
        Object name = m.getOrDefault("name", "");
        if (!(name instanceof String)) {
            throw new HostHttp.BadRequest("\"name\" must be a string");
        }
        Map<String, String> env = new LinkedHashMap<>();
        Object e = m.getOrDefault("env", Map.of());
        if (!(e instanceof Map<?, ?> em)) {
            throw new HostHttp.BadRequest("\"env\" must be an object of strings");
        }
        for (Map.Entry<?, ?> x : em.entrySet()) {
            if (!(x.getValue() instanceof String v)) {
                throw new HostHttp.BadRequest("\"env\"." + x.getKey() + " must be a string");
            }
            env.put((String) x.getKey(), v);
        }
        // A thin client (bin: the launcher's fast path) sends the -e/--env-file options as given, with its shell's
        // values of the bare -e KEYs; the host resolves them with the code `ukernel run` uses.
        List<String> envArgs = strings(m, "env_args");
        List<Path> envFiles = new ArrayList<>();
        for (String f : strings(m, "env_files")) {
            if (!Path.of(f).isAbsolute()) {
                throw new HostHttp.BadRequest("\"env_files\" must be absolute paths, got " + f);
            }
            envFiles.add(Path.of(f));
        }
        Map<String, String> shellEnv = new LinkedHashMap<>();
        Object se = m.getOrDefault("shell_env", Map.of());
        if (!(se instanceof Map<?, ?> sem)) {
            throw new HostHttp.BadRequest("\"shell_env\" must be an object of strings");
        }
        for (Map.Entry<?, ?> x : sem.entrySet()) {
            if (!(x.getValue() instanceof String v)) {
                throw new HostHttp.BadRequest("\"shell_env\"." + x.getKey() + " must be a string");
            }
            shellEnv.put((String) x.getKey(), v);
        }
        Object grace = m.getOrDefault("grace", 5L);
        if (!(grace instanceof Number g) || g.doubleValue() < 0) {
            throw new HostHttp.BadRequest("\"grace\" must be zero or more seconds");
        }
        // Always, as `ukernel run` does: env/ukernel.env, then the files, then -e (the launcher's fast client sends
        // the options as given; "env", already resolved by the JVM CLI, wins)
        try {
            Map<String, String> resolved = RunCommand.environment(Path.of(dir), envFiles, envArgs, shellEnv);
            resolved.putAll(env);
            env = resolved;
        } catch (UserError | java.io.IOException bad) {
            throw new HostHttp.BadRequest(bad.getMessage());
        }
        return new Host.RunRequest(dir, (String) name, env, bool(m, "rm"), bool(m, "insecure_no_sandbox"),
                g.doubleValue(), bool(m, "debug"));
    }

    private static List<String> strings(Map<String, Object> m, String key) throws HostHttp.BadRequest {
        Object v = m.getOrDefault(key, List.of());
        List<String> out = new ArrayList<>();
        if (!(v instanceof List<?> l)) {
            throw new HostHttp.BadRequest("\"" + key + "\" must be a list of strings");
        }
        for (Object o : l) {
            if (!(o instanceof String str)) {
                throw new HostHttp.BadRequest("\"" + key + "\" must be a list of strings");
            }
            out.add(str);
        }
        return out;
    }

    private static boolean bool(Map<String, Object> m, String key) throws HostHttp.BadRequest {
        Object v = m.getOrDefault(key, false);
        if (!(v instanceof Boolean b)) {
            throw new HostHttp.BadRequest("\"" + key + "\" must be true or false");
        }
        return b;
    }

    Map<String, Object> hostInfo() {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("pid", ProcessHandle.current().pid());
        h.put("version", Version.UKERNEL);
        h.put("started", host.started().toString());
        h.put("apps", host.apps().size());
        h.put("stopping", host.shuttingDown());
        Templates t = host.templates;
        if (t != null) {
            List<Map<String, Object>> live = new ArrayList<>();
            for (long[] pids : t.pids()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("pid", pids[0]);
                m.put("forker", pids[1]);
                live.add(m);
            }
            h.put("templates", live);
            h.put("templates_made", (long) t.made());
            h.put("template_forks", (long) t.forks());
        }
        return h;
    }

    static Map<String, Object> appJson(Host.App a) {
        Map<String, Object> j = new LinkedHashMap<>();
        boolean running = a.running();
        j.put("name", a.name);
        j.put("status", a.status());
        j.put("running", running);
        j.put("exit_code", running ? null : (Object) (long) a.exitStatus);
        j.put("app", a.prepared.manifest().name());
        j.put("dir", a.prepared.app().toString());
        Instant s = a.started;
        j.put("started", s == null ? null : s.toString());
        Instant end = a.ended;
        j.put("uptime_s", s == null ? 0L : Duration.between(s, end != null ? end : Instant.now()).toSeconds());
        InstanceLog log = a.log;
        j.put("instance", log == null ? null : log.id());
        j.put("log", log == null ? null : log.log().toString());
        j.put("boot_wall_ms", log == null ? null : (Object) log.bootWallMs());
        j.put("restarts", (long) a.restarts());
        List<String> bind = a.prepared.manifest().net().bind();
        j.put("ports", String.join(",", bind));
        long cpu = 0;
        long rss = 0;
        List<Object> tasks = new ArrayList<>();
        for (Kernel.TaskInfo t : a.tasks()) {
            long[] use = Host.procUsage(t.pid());
            cpu += use[0];
            rss += use[1];
            Map<String, Object> tj = new LinkedHashMap<>();
            tj.put("id", (long) t.id());
            tj.put("name", t.name());
            tj.put("state", t.state());
            tj.put("pid", t.pid());
            tj.put("restarts", (long) t.restarts());
            tj.put("exit_code", (long) t.exitStatus());
            tj.put("cpu_ms", use[0]);
            tj.put("rss_bytes", use[1]);
            tasks.add(tj);
        }
        j.put("tasks", tasks);
        j.put("cpu_ms", cpu);
        j.put("rss_bytes", rss);
        return j;
    }

    /** The last {@code n} lines of the app's current log (all when negative). */
    static String tail(Host.App a, int n) throws IOException {
        InstanceLog log = a.log;
        if (log == null || !Files.exists(log.log())) {
            return "";
        }
        try (FileChannel ch = FileChannel.open(log.log(), StandardOpenOption.READ)) {
            long size = ch.size();
            long start = n < 0 ? 0 : LogsCommand.startOfLastLines(ch, size, n);
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) Math.min(size - start, 4 << 20));
            ch.read(buf, size - buf.capacity());
            return new String(buf.array(), StandardCharsets.UTF_8);
        }
    }

    /** Every app's and task's figures in Prometheus's text format. */
    String metrics() {
        Prometheus p = new Prometheus();
        List<Host.App> apps = host.apps();
        p.family("ukernel_host_apps", "gauge", "Apps the host knows, running or exited.");
        p.sample("ukernel_host_apps", apps.size());
        p.family("ukernel_app_up", "gauge", "1 while the app's kernel runs, 0 once it ended.");
        p.family("ukernel_app_exit_code", "gauge", "The ended app's exit status (-1 while it runs).");
        p.family("ukernel_app_restarts_total", "counter", "Restarts of the app's tasks by its kernel, plus ukernel restart.");
        p.family("ukernel_task_up", "gauge", "1 while the task's worker runs (starting or running).");
        p.family("ukernel_task_restarts_total", "counter", "Restarts of the task by its restart policy.");
        p.family("ukernel_task_cpu_seconds_total", "counter", "CPU time of the task's live worker (user + system), from /proc.");
        p.family("ukernel_task_resident_bytes", "gauge", "Resident memory of the task's live worker, from /proc.");
        p.family("ukernel_calls_total", "counter", "Kernel calls by the task, by family.");
        p.family("ukernel_denials_total", "counter", "Calls refused as denied (capability not held, or not allowed by the policy).");
        p.family("ukernel_connections_total", "counter", "Network connections made (net_connect) or accepted (net_accept).");
        p.family("ukernel_net_bytes_total", "counter", "Bytes through net_send (sent) and net_recv (received).");
        for (Host.App a : apps) {
            String app = a.name;
            boolean running = a.running();
            p.sample("ukernel_app_up", running ? 1 : 0, "app", app);
            p.sample("ukernel_app_exit_code", running ? -1 : a.exitStatus, "app", app);
            p.sample("ukernel_app_restarts_total", a.restarts(), "app", app);
            for (Kernel.TaskInfo t : a.tasks()) {
                String task = t.name() + "#" + t.id();
                long[] use = Host.procUsage(t.pid());
                p.sample("ukernel_task_up", t.state().equals("exited") ? 0 : 1, "app", app, "task", task);
                p.sample("ukernel_task_restarts_total", t.restarts(), "app", app, "task", task);
                p.sample("ukernel_task_cpu_seconds_total", use[0] / 1000.0, "app", app, "task", task);
                p.sample("ukernel_task_resident_bytes", use[1], "app", app, "task", task);
            }
            Kernel k = a.kernel;
            if (k == null) {
                continue;
            }
            for (Map.Entry<String, KernelMetrics.Counters> e : k.metrics().snapshot().entrySet()) {
                String task = e.getKey();
                KernelMetrics.Counters c = e.getValue();
                for (Family f : Family.values()) {
                    p.sample("ukernel_calls_total", c.calls(f), "app", app, "task", task, "family",
                            f.name().toLowerCase(Locale.ROOT));
                }
                p.sample("ukernel_denials_total", c.get(KernelMetrics.Counter.DENIALS), "app", app, "task", task);
                p.sample("ukernel_connections_total", c.get(KernelMetrics.Counter.CONNECTIONS), "app", app,
                        "task", task);
                p.sample("ukernel_net_bytes_total", c.get(KernelMetrics.Counter.BYTES_SENT), "app", app, "task",
                        task, "direction", "sent");
                p.sample("ukernel_net_bytes_total", c.get(KernelMetrics.Counter.BYTES_RECEIVED), "app", app,
                        "task", task, "direction", "received");
            }
        }
        return p.toString();
    }
}
