package io.ukernel.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import sun.misc.Signal;

/** {@code ukernel host}: the resident host, in the foreground (a service manager or {@code run -d} starts it). */
@Command(
        name = "host",
        header = "Run the resident host: many apps in one process, controlled through a Unix socket.",
        mixinStandardHelpOptions = true,
        subcommands = HostCommand.Stop.class,
        description = {
            "Run the resident host in the foreground: one process that runs many apps, each its own kernel with "
                    + "its own policy and logs, and keeps them running as their [restart] policies say. "
                    + "`ukernel run -d` starts it on demand; docs/host.md has a systemd unit.",
            "",
            "Its API (HTTP + JSON) listens on ~/.ukernel/host.sock (directory 0700, socket 0600; $UKERNEL_HOME "
                    + "moves ~/.ukernel). SIGTERM, SIGINT or `ukernel host stop` stop every app, then the host."
        },
        footerHeading = "%nExamples:%n",
        footer = {
            "  ukernel host                          the host in the foreground",
            "  ukernel host --http 127.0.0.1:8800    also a read-only status page and /metrics on that port",
            "  ukernel host stop                     stop every app and the host"
        })
public final class HostCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--http", paramLabel = "ADDR:PORT",
            description = "Also serve the status page, /apps, /metrics and logs, read-only, on this loopback "
                    + "address (port 0 picks a free one; the port is printed).")
    String http;

    @Option(names = "--grace", paramLabel = "SECONDS", defaultValue = "10",
            description = "On stop, how long the apps get to end before their workers are killed. "
                    + "Default: ${DEFAULT-VALUE}.")
    double grace;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path socket = Host.socket();
        Path home = socket.getParent();
        Files.createDirectories(home);
        Files.setPosixFilePermissions(home, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        try (FileChannel lockFile = FileChannel.open(home.resolve("host.lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            FileLock lock = lockFile.tryLock();
            if (lock == null) {
                throw new UserError("a host already runs for " + home + " (`ukernel host stop` ends it)");
            }
            Host host = new Host();
            CountDownLatch done = new CountDownLatch(1);
            long timeoutMs = (long) (grace * 1000) + 2000;
            Runnable shutdown = () -> {
                try {
                    host.stopAll(timeoutMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            HostApi api = new HostApi(host, shutdown);
            api.afterShutdown(done::countDown);
            try (HostServer server = HostServer.open(api, socket, address(http))) {
                server.start();
                for (String sig : new String[] {"TERM", "INT"}) {
                    Signal.handle(new Signal(sig), s -> Thread.ofPlatform().start(() -> {
                        shutdown.run();
                        done.countDown();
                    }));
                }
                out.println("ukernel host: pid " + ProcessHandle.current().pid() + ", API on " + socket);
                if (http != null) {
                    out.println("ukernel host: status page on http://" + hostPart(http) + ":" + server.httpPort()
                            + "/");
                }
                out.flush();
                done.await();
                out.println("ukernel host: stopped");
                out.flush();
            }
            return 0;
        }
    }

    private static String hostPart(String addr) {
        return addr.substring(0, addr.lastIndexOf(':'));
    }

    static InetSocketAddress address(String http) throws UserError {
        if (http == null) {
            return null;
        }
        int colon = http.lastIndexOf(':');
        if (colon <= 0) {
            throw new UserError("--http takes ADDR:PORT, e.g. 127.0.0.1:0, got \"" + http + "\"");
        }
        String addr = http.substring(0, colon).replace("[", "").replace("]", "");
        try {
            return new InetSocketAddress(java.net.InetAddress.getByName(addr),
                    Integer.parseInt(http.substring(colon + 1)));
        } catch (IOException | NumberFormatException e) {
            throw new UserError("--http takes ADDR:PORT with a numeric loopback address, got \"" + http + "\"");
        }
    }

    /** Whether the process runs: exists and is not a zombie (state Z in /proc/PID/stat). */
    static boolean running(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** {@code ukernel host stop}. */
    @Command(name = "stop", mixinStandardHelpOptions = true,
            header = "Stop every app of the host, then the host.",
            description = "Stop every app cleanly (SIGTERM to their tasks, SIGKILL after the grace period), then "
                    + "the host; waits until the host process has ended.")
    static final class Stop implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            HostClient client = HostClient.local();
            if (!client.running()) {
                out.println("No host is running.");
                out.flush();
                return 0;
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> info = (Map<String, Object>) client.request("GET", "/host", null);
            long pid = ((Number) info.get("pid")).longValue();
            client.request("POST", "/host/stop", Map.of());
            // Not ProcessHandle.onExit(): an ended host whose parent has not reaped it yet (a script that started
            // it and waits for this command) stays a zombie, "alive" to the JDK, until this command returns.
            while (running(pid)) {
                Thread.sleep(20);
            }
            out.println("Stopped the host (pid " + pid + ")");
            out.flush();
            return 0;
        }
    }
}
