package io.ukernel.vmm.firecracker;

import io.ukernel.app.json.Json;
import io.ukernel.vmm.RestoreRecord;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;

/**
 * A stand-in for Firecracker where its binary cannot run (it needs KVM): an API server on a Unix socket that
 * answers like Firecracker v1.16 — {@code 204} with no body for an accepted call, {@code 400
 * {"fault_message": ...}} otherwise — after checking every request against the published swagger file
 * ({@link SwaggerSpec}: path, method, body definition, required and unknown fields, enums, ids) and against the
 * order Firecracker enforces (configuration before {@code InstanceStart}, a kernel before starting, nothing but
 * actions after). Files it is given must exist, as Firecracker opens them. After {@code InstanceStart} it replays
 * a serial console on its stdout (only with {@code console=ttyS0} in {@code boot_args}, as the real one); on
 * {@code SendCtrlAltDel} it prints the guest's stop and exit lines and exits, as Firecracker does when the guest
 * reboots.
 *
 * <p>Runs in-process ({@link #start}) or as a process ({@link #main}: {@code --api-sock PATH}), standing in for
 * the {@code firecracker} binary. Environment, process mode: {@code FAKE_FC_RECORD} (a file that receives one
 * {@code METHOD path} line per accepted call), {@code FAKE_FC_REJECT_DRIVE} (a fault message for every drive).
 */
final class FakeFirecracker implements AutoCloseable {
    private final SwaggerSpec spec;
    private final ServerSocketChannel server;
    private final Path socket;
    private final PrintStream console;
    private final List<String> accepted = Collections.synchronizedList(new ArrayList<>());
    private final List<String> refused = Collections.synchronizedList(new ArrayList<>());
    private final CountDownLatch ended = new CountDownLatch(1);
    private volatile String rejectDrive;
    private volatile Path record;
    private boolean started;
    private boolean haveKernel;
    private boolean consoleOn;
    /** Boot arguments asked for the snapshot point ({@code ukernel.snapshot=1}). */
    private boolean snapshotPoint;
    /** Something other than the logger was configured: a snapshot can no longer be loaded. */
    private boolean configured;
    private boolean paused;
    /** The guest's console input (the process's stdin), read by a restored guest for its restore record. */
    private volatile InputStream consoleIn;
    private volatile Runnable onExit = () -> { };

    private FakeFirecracker(SwaggerSpec spec, ServerSocketChannel server, Path socket, PrintStream console) {
        this.spec = spec;
        this.server = server;
        this.socket = socket;
        this.console = console;
    }

    /** Listens on {@code socket}; console lines go to {@code console}. */
    static FakeFirecracker start(Path socket, PrintStream console) throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(socket));
        FakeFirecracker f = new FakeFirecracker(SwaggerSpec.load(), s, socket, console);
        Thread.ofPlatform().daemon().name("fake-firecracker").start(f::serve);
        return f;
    }

    /** Every drive PUT is refused with {@code message}. */
    FakeFirecracker rejectDrives(String message) {
        this.rejectDrive = message;
        return this;
    }

    /** Accepted calls, {@code METHOD path}, in order. */
    List<String> accepted() {
        return List.copyOf(accepted);
    }

    /** Refused calls with their fault messages. */
    List<String> refused() {
        return List.copyOf(refused);
    }

    private void serve() {
        while (server.isOpen()) {
            try {
                SocketChannel c = server.accept();
                Thread.ofPlatform().daemon().start(() -> connection(c));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void connection(SocketChannel c) {
        try (c; InputStream in = Channels.newInputStream(c); OutputStream out = Channels.newOutputStream(c)) {
            while (true) {
                String requestLine = line(in);
                if (requestLine == null || requestLine.isEmpty()) {
                    return;
                }
                int length = 0;
                for (String h; (h = line(in)) != null && !h.isEmpty(); ) {
                    int colon = h.indexOf(':');
                    if (colon > 0 && h.substring(0, colon).strip().equalsIgnoreCase("content-length")) {
                        length = Integer.parseInt(h.substring(colon + 1).strip());
                    }
                }
                String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
                String[] parts = requestLine.split(" ");
                String fault = handle(parts[0], parts.length > 1 ? parts[1] : "", body);
                respond(out, fault);
                if (fault == null && exitRequested) {
                    c.close();
                    exit();
                    return;
                }
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    private volatile boolean exitRequested;

    /** Validates and applies one request; returns null (204) or the fault message (400). */
    private synchronized String handle(String method, String path, String body) {
        String what = method + " " + path;
        Optional<SwaggerSpec.Operation> op = spec.find(method, path);
        if (op.isEmpty()) {
            return refuse(what, "Invalid request method and/or path: " + method + " " + path + ".");
        }
        for (Map.Entry<String, String> p : op.get().pathParams().entrySet()) {
            if (!SwaggerSpec.ID.matcher(p.getValue()).matches()) {
                return refuse(what, "Invalid ID. The ID must contain only alphanumeric characters and "
                        + "underscores: " + p.getValue());
            }
        }
        Map<String, Object> json = Map.of();
        if (op.get().body() != null) {
            try {
                json = Json.readObject(body);
            } catch (IllegalArgumentException e) {
                return refuse(what, "An error occurred when deserializing the json body of a request: "
                        + e.getMessage());
            }
            List<String> errors = spec.validate(op.get().body(), json);
            if (!errors.isEmpty()) {
                return refuse(what, "An error occurred when deserializing the json body of a request: "
                        + String.join("; ", errors));
            }
        }
        String fault = apply(op.get(), json);
        if (fault != null) {
            return refuse(what, fault);
        }
        accepted.add(what);
        if (record != null) {
            try {
                Files.writeString(record, what + "\n", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.APPEND);
            } catch (IOException ignored) {
                // the test will notice
            }
        }
        return null;
    }

    private String apply(SwaggerSpec.Operation op, Map<String, Object> json) {
        String t = op.template();
        if (!t.equals("/actions") && !t.equals("/snapshot/create") && started && op.method().equals("PUT")) {
            return "The requested operation is not supported after starting the microVM.";
        }
        if (List.of("/machine-config", "/boot-source", "/drives/{drive_id}", "/network-interfaces/{iface_id}")
                .contains(t)) {
            configured = true;
        }
        switch (t) {
            case "/boot-source" -> {
                for (String k : List.of("kernel_image_path", "initrd_path")) {
                    if (json.get(k) instanceof String p && !Files.isRegularFile(Path.of(p))) {
                        return "Cannot open " + (k.startsWith("kernel") ? "kernel image" : "initrd file")
                                + ": No such file or directory (os error 2)";
                    }
                }
                haveKernel = true;
                consoleOn = String.valueOf(json.get("boot_args")).contains("console=ttyS0");
                snapshotPoint = String.valueOf(json.get("boot_args")).contains(RestoreRecord.SNAPSHOT_WORD);
            }
            case "/logger" -> {
                if (json.get("log_path") instanceof String p && !Files.exists(Path.of(p))) {
                    return "Failed to open target file: No such file or directory (os error 2)";
                }
            }
            case "/drives/{drive_id}" -> {
                if (!op.pathParams().get("drive_id").equals(json.get("drive_id"))) {
                    return "The id from the path [" + op.pathParams().get("drive_id") + "] does not match the id "
                            + "from the body [" + json.get("drive_id") + "]!";
                }
                if (rejectDrive != null) {
                    return rejectDrive;
                }
                if (json.get("path_on_host") instanceof String p && !Files.isRegularFile(Path.of(p))) {
                    return "Unable to create the block device: BackingFile(Os { code: 2, kind: NotFound, message: "
                            + "\"No such file or directory\" }, \"" + p + "\")";
                }
            }
            case "/network-interfaces/{iface_id}" -> {
                if (!op.pathParams().get("iface_id").equals(json.get("iface_id"))) {
                    return "The id from the path [" + op.pathParams().get("iface_id") + "] does not match the id "
                            + "from the body [" + json.get("iface_id") + "]!";
                }
            }
            case "/actions" -> {
                return action(String.valueOf(json.get("action_type")));
            }
            case "/vm" -> {
                if (!started) {
                    return "The requested operation is not supported before starting the microVM.";
                }
                paused = "Paused".equals(json.get("state"));
            }
            case "/snapshot/create" -> {
                return createSnapshot(json);
            }
            case "/snapshot/load" -> {
                return loadSnapshot(json);
            }
            default -> { }
        }
        return null;
    }

    /** A full snapshot of a paused microVM: the "state" says what the console was doing; the memory is filler. */
    private String createSnapshot(Map<String, Object> json) {
        if (!started) {
            return "The requested operation is not supported before starting the microVM.";
        }
        if (!paused) {
            return "Cannot create a snapshot of a microVM that is not paused.";
        }
        try {
            Files.writeString(Path.of((String) json.get("snapshot_path")),
                    Json.write(Map.of("fake", "firecracker", "console", consoleOn)));
            byte[] mem = new byte[1 << 16];
            java.util.Arrays.fill(mem, (byte) 0x5a);
            Files.write(Path.of((String) json.get("mem_file_path")), mem);
        } catch (IOException | RuntimeException e) {
            return "Cannot save the microVM state: " + e.getMessage();
        }
        return null;
    }

    /** Only on a fresh process (the logger at most configured); then the guest runs, resumed or paused. */
    @SuppressWarnings("unchecked")
    private String loadSnapshot(Map<String, Object> json) {
        if (started) {
            return "The requested operation is not supported after starting the microVM.";
        }
        if (configured) {
            return "Loading a microVM snapshot not allowed after configuring boot-specific resources.";
        }
        Object memFile = json.get("mem_file_path");
        Object backend = json.get("mem_backend");
        if ((memFile == null) == (backend == null)) {
            return "Exactly one of mem_file_path and mem_backend must be given.";
        }
        String mem = memFile != null ? (String) memFile : (String) ((Map<String, Object>) backend).get("backend_path");
        Map<String, Object> state;
        try {
            state = Json.readObject(Files.readString(Path.of((String) json.get("snapshot_path"))));
            if (!Files.isRegularFile(Path.of(mem))) {
                return "Cannot open the memory file: No such file or directory (os error 2)";
            }
        } catch (IOException | IllegalArgumentException e) {
            return "Cannot load the microVM state: " + e.getMessage();
        }
        started = true;
        haveKernel = true;
        consoleOn = Boolean.TRUE.equals(state.get("console"));
        paused = !Boolean.TRUE.equals(json.get("resume_vm"));
        if (!paused) {
            replayRestore();
        }
        return null;
    }

    /** The restored guest reads its restore record from the console and says what it got (not the values). */
    private void replayRestore() {
        InputStream in = consoleIn;
        if (!consoleOn || in == null) {
            return;
        }
        Thread.ofPlatform().daemon().name("fake-guest").start(() -> {
            try {
                String line = line(in);
                RestoreRecord r = RestoreRecord.parse(line == null ? "" : line);
                console.println("[    7.100000] kernel#0 INFO  microvm: restored from a snapshot (fake Firecracker "
                        + "console): wall " + r.wallNs() + ", seed " + r.seed().length + " bytes, env keys "
                        + new java.util.TreeSet<>(r.params().env().keySet()));
                console.println("[    7.300000] main#1 INFO  heartbeat 1 (uptime 0.00 s)");
            } catch (IOException | RuntimeException e) {
                console.println("ukernel: the guest init failed: " + e);
            }
            console.flush();
        });
    }

    private String action(String type) {
        switch (type) {
            case "InstanceStart" -> {
                if (started) {
                    return "The requested operation is not supported after starting the microVM.";
                }
                if (!haveKernel) {
                    return "Cannot start microvm without kernel configuration.";
                }
                started = true;
                replayBoot();
            }
            case "SendCtrlAltDel" -> {
                if (!started) {
                    return "The requested operation is not supported before starting the microVM.";
                }
                replayStop();
                exitRequested = true;
            }
            default -> { }
        }
        return null;
    }

    private void replayBoot() {
        if (!consoleOn) {
            return;
        }
        if (snapshotPoint) {
            console.println("[    0.412000] kernel#0 INFO  microvm: JVM main at 0.21 s (fake Firecracker console)");
            console.println(RestoreRecord.READY_LINE);
            console.flush();
            return;
        }
        console.println("[    0.412000] kernel#0 INFO  microvm: JVM main at 0.21 s (fake Firecracker console)");
        console.println("[    0.520000] kernel#0 INFO  ukernel 0.1.0 · ABI 1.0 · platform microvm · java 25 · pid 1");
        console.println("[    0.700000] main#1 INFO  heartbeat 1 (uptime 0.00 s)");
        console.flush();
    }

    private void replayStop() {
        if (!consoleOn) {
            return;
        }
        console.println("[    3.100000] kernel#0 INFO  stopping: Ctrl-Alt-Del from the host; 1 task(s) still running get"
                + " SIGTERM, then SIGKILL after 5000 ms");
        console.println("[    3.200000] kernel#0 INFO  app fake ended with status 0 (Ctrl-Alt-Del from the host)");
        console.println("ukernel: app exited with status 0");
        console.println("[    3.250000] reboot: Restarting system");
        console.flush();
    }

    private String refuse(String what, String fault) {
        refused.add(what + " -> " + fault);
        return fault;
    }

    private static void respond(OutputStream out, String fault) throws IOException {
        String resp;
        if (fault == null) {
            resp = "HTTP/1.1 204 No Content\r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n";
        } else {
            String body = Json.write(Map.of("fault_message", fault));
            resp = "HTTP/1.1 400 Bad Request\r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
                    + "Content-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body;
        }
        out.write(resp.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c; (c = in.read()) >= 0; ) {
            if (c == '\n') {
                String s = b.toString(StandardCharsets.ISO_8859_1);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            b.write(c);
        }
        return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
    }

    private void exit() {
        ended.countDown();
        onExit.run();
    }

    /** Waits until the guest "rebooted" (SendCtrlAltDel). */
    boolean awaitEnd(long millis) throws InterruptedException {
        return ended.await(millis, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() throws IOException {
        server.close();
        Files.deleteIfExists(socket);
    }

    /**
     * Boots from a {@code --config-file}, as Firecracker does: each section is applied like its API call (and
     * checked the same way), then the instance starts; a refused section ends the process with status 1.
     */
    @SuppressWarnings("unchecked")
    private void bootFromConfig(Path file) throws IOException {
        Map<String, Object> cfg = Json.readObject(Files.readString(file));
        List<String[]> calls = new ArrayList<>();
        for (String key : List.of("logger", "machine-config", "boot-source")) {
            if (cfg.get(key) != null) {
                calls.add(new String[] {"/" + key, Json.write(cfg.get(key))});
            }
        }
        for (Object d : (List<Object>) cfg.getOrDefault("drives", List.of())) {
            calls.add(new String[] {"/drives/" + ((Map<String, Object>) d).get("drive_id"), Json.write(d)});
        }
        for (Object n : (List<Object>) cfg.getOrDefault("network-interfaces", List.of())) {
            calls.add(new String[] {"/network-interfaces/" + ((Map<String, Object>) n).get("iface_id"),
                Json.write(n)});
        }
        for (String k : cfg.keySet()) {
            if (!List.of("logger", "machine-config", "boot-source", "drives", "network-interfaces").contains(k)) {
                System.err.println("Error: unknown config-file section " + k);
                Runtime.getRuntime().halt(1);
            }
        }
        calls.add(new String[] {"/actions", "{\"action_type\":\"InstanceStart\"}"});
        for (String[] c : calls) {
            String fault = handle("PUT", c[0], c[1]);
            if (fault != null) {
                System.err.println("Error: PUT " + c[0] + ": " + fault);
                Runtime.getRuntime().halt(1);
            }
        }
    }

    /**
     * As the {@code firecracker} binary: {@code --api-sock PATH [--id ID] [--config-file FILE]}. With
     * {@code FAKE_FC_AUTOSTOP=1} the guest "stops" right after booting (scripts without an API client).
     */
    public static void main(String[] args) throws Exception {
        if (args.length == 1 && args[0].equals("--version")) {
            System.out.println("Firecracker v1.16.1 (fake)");
            return;
        }
        Path sock = null;
        Path config = null;
        for (int i = 0; i < args.length - 1; i++) {
            if (args[i].equals("--api-sock")) {
                sock = Path.of(args[i + 1]);
            } else if (args[i].equals("--config-file")) {
                config = Path.of(args[i + 1]);
            }
        }
        if (sock == null) {
            System.err.println("fake firecracker: --api-sock is required");
            System.exit(1);
        }
        FakeFirecracker f = start(sock, System.out);
        f.consoleIn = System.in;
        String reject = System.getenv("FAKE_FC_REJECT_DRIVE");
        if (reject != null) {
            f.rejectDrives(reject);
        }
        String rec = System.getenv("FAKE_FC_RECORD");
        if (rec != null) {
            f.record = Path.of(rec);
        }
        System.err.println("fake firecracker " + String.join(" ", args).toLowerCase(Locale.ROOT) + ": API on " + sock);
        f.onExit = () -> {
            try {
                f.close();
            } catch (IOException ignored) {
                // exiting anyway
            }
            System.out.flush();
            Runtime.getRuntime().halt(0);
        };
        if (config != null) {
            f.bootFromConfig(config);
            if ("1".equals(System.getenv("FAKE_FC_AUTOSTOP"))) {
                f.handle("PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}");
                f.exit();
            }
        }
        f.ended.await();
        Thread.sleep(Long.MAX_VALUE);
    }
}
