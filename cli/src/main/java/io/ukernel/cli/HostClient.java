package io.ukernel.cli;

import io.ukernel.app.json.Json;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The CLI's side of the host: requests over {@code ~/.ukernel/host.sock}, and starting the host on demand. */
final class HostClient {
    /** Bounds a hang only: how long a host that was started gets to answer. */
    private static final long START_TIMEOUT_S = 120;

    private final Path socket;

    HostClient(Path socket) {
        this.socket = socket;
    }

    static HostClient local() {
        return new HostClient(Host.socket());
    }

    /** Whether a host answers on the socket. */
    boolean running() {
        if (!Files.exists(socket)) {
            return false;
        }
        try {
            return HostHttp.call(socket, "GET", "/host", null).status() == 200;
        } catch (IOException e) {
            return false;
        }
    }

    /** A request whose answer must be 2xx: its JSON (or null when empty); otherwise the host's message. */
    Object request(String method, String path, Map<String, Object> body) throws UserError, IOException {
        HostHttp.Response r = raw(method, path, body);
        if (r.status() / 100 != 2) {
            String message = r.bodyText();
            try {
                Object m = Json.readObject(message).get("message");
                message = m != null ? m.toString() : message;
            } catch (RuntimeException notJson) {
                // the raw body says it
            }
            throw new UserError(message);
        }
        return r.body().length == 0 ? null : r.contentType().startsWith("application/json")
                ? Json.read(r.bodyText()) : r.bodyText();
    }

    HostHttp.Response raw(String method, String path, Map<String, Object> body) throws IOException {
        try {
            return HostHttp.call(socket, method, path, body == null ? null : Json.write(body));
        } catch (java.net.SocketException | java.nio.channels.ClosedChannelException e) {
            throw new IOException("the host on " + socket + " did not answer: " + e.getMessage()
                    + " (is it running? `ukernel host` starts it)", e);
        }
    }

    /**
     * Starts {@code ukernel host} when none answers: a JVM of its own, in its own session (so the terminal's
     * Ctrl-C or hang-up does not reach it), output to {@code host.log} beside the socket; waits until it answers.
     */
    void ensureRunning(java.io.PrintWriter err) throws IOException, UserError, InterruptedException {
        if (running()) {
            return;
        }
        Path home = socket.getParent();
        Files.createDirectories(home);
        Path log = home.resolve("host.log");
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
            cmd.add("/usr/bin/setsid");
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("--add-exports=java.base/sun.nio.ch=ALL-UNNAMED"); // granted sockets (kernel RawFd)
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // the launcher's tuning and properties; never a debugger or agent (a fixed port, a second trace)
            if ((a.startsWith("-D") || a.startsWith("-X"))
                    && !a.startsWith("-Xdebug") && !a.startsWith("-Xrunjdwp") && !a.contains("AOTCacheOutput")
                    && !a.contains("AOTMode")
                    && !a.startsWith("--enable-native-access")) {
                cmd.add(a);
            }
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "host"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put(Host.ENV_HOME, home.toString());
        Process p = pb.start();
        err.println("ukernel: started the host (pid " + p.pid() + ", log " + InitCommand.display(log) + ")");
        err.flush();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_TIMEOUT_S);
        while (!running()) {
            // setsid forks when it is a process group leader: its own exit says nothing about the host's
            if (!p.isAlive() && cmd.getFirst().endsWith("java") && !running()) {
                throw new UserError("the host did not start (exit " + p.exitValue() + "): " + lastLines(log));
            }
            if (System.nanoTime() > deadline) {
                throw new UserError("the host did not answer within " + START_TIMEOUT_S + " s: " + lastLines(log));
            }
            Thread.sleep(20);
        }
    }

    private static String lastLines(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size()));
        } catch (IOException e) {
            return "(no " + log + ")";
        }
    }
}
