package io.ukernel.vmm.qemu;

import io.ukernel.app.json.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A client of the QEMU Machine Protocol on a Unix socket ({@code -qmp unix:PATH,server=on,wait=off}): one JSON
 * object per line; the greeting, then {@code qmp_capabilities}, then commands, each answered by {@code return}
 * or {@code error} (asynchronous {@code event}s in between are skipped). Used to press Ctrl-Alt-Del on the
 * guest's keyboard controller and to quit. Not thread-safe: callers serialize.
 */
public final class QmpClient implements AutoCloseable {
    private final SocketChannel channel;
    private final BufferedReader in;
    private final OutputStream out;

    private QmpClient(SocketChannel channel) {
        this.channel = channel;
        this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        this.out = Channels.newOutputStream(channel);
    }

    /**
     * Connects and negotiates capabilities.
     *
     * @throws QemuException if the socket cannot be reached or does not speak QMP
     */
    public static QmpClient connect(Path socket) throws QemuException {
        SocketChannel ch = null;
        try {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(socket));
            QmpClient c = new QmpClient(ch);
            String greeting = c.in.readLine();
            if (greeting == null || !greeting.contains("\"QMP\"")) {
                throw new QemuException("QEMU's monitor at " + socket + " did not greet with QMP");
            }
            c.execute("qmp_capabilities", null);
            return c;
        } catch (IOException e) {
            closeQuietly(ch);
            throw new QemuException("cannot reach QEMU's monitor at " + socket + ": " + e.getMessage(), e);
        } catch (QemuException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    /** Presses Ctrl-Alt-Del on the guest's keyboard: the guest's init stops the app and ends the VM. */
    public void ctrlAltDel() throws QemuException {
        List<Map<String, Object>> keys = List.of(key("ctrl"), key("alt"), key("delete"));
        execute("send-key", Map.of("keys", keys));
    }

    /** Ends QEMU at once. */
    public void quit() throws QemuException {
        execute("quit", null);
    }

    /**
     * Runs {@code command} and returns its {@code return} value.
     *
     * @throws QemuException with QEMU's {@code error.desc} if it fails
     */
    public Object execute(String command, Map<String, Object> arguments) throws QemuException {
        Map<String, Object> msg = new java.util.LinkedHashMap<>();
        msg.put("execute", command);
        if (arguments != null) {
            msg.put("arguments", arguments);
        }
        try {
            out.write((Json.write(msg) + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            for (String line; (line = in.readLine()) != null; ) {
                Map<String, Object> reply = Json.readObject(line);
                if (reply.containsKey("return")) {
                    return reply.get("return");
                }
                if (reply.get("error") instanceof Map<?, ?> err) {
                    throw new QemuException("QEMU refused " + command + ": " + err.get("desc"));
                }
                // an event: keep reading
            }
            throw new QemuException("QEMU closed its monitor during " + command);
        } catch (IOException | IllegalArgumentException e) {
            if ("quit".equals(command)) {
                return null;                    // QEMU may close the socket before answering quit
            }
            throw new QemuException("QMP " + command + " failed: " + e.getMessage(), e);
        }
    }

    private static Map<String, Object> key(String qcode) {
        return Map.of("type", "qcode", "data", qcode);
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(SocketChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}
