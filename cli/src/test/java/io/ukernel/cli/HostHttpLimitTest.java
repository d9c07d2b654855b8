package io.ukernel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Red team: any local user can reach the host's {@code --http} port. Idle connections (nothing sent) each held a
 * descriptor and a thread of the host's JVM, without bound: enough of them took every descriptor the host may open
 * (20 000 here), and then no app could start a worker. The listener now holds at most
 * {@link HostServer#MAX_HTTP_CONNECTIONS} and closes the others at once; it serves again when they go.
 */
class HostHttpLimitTest {
    @TempDir
    Path home;

    @Test
    void idleConnectionsBeyondTheBound_areClosed_andTheListenerRecovers() throws Exception {
        HostServer server = HostServer.open(new HostApi(new Host(), () -> { }), home.resolve("host.sock"),
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        server.start();
        int port = server.httpPort();
        List<Socket> idle = new ArrayList<>();
        try {
            int extra = 20;
            for (int i = 0; i < HostServer.MAX_HTTP_CONNECTIONS + extra; i++) {
                Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
                s.setSoTimeout(120_000); // a guard against a hang if the bound were gone, not a measurement
                idle.add(s);
            }
            // The listener accepts in order: the last ones are over the bound and read end of stream.
            for (Socket s : idle.subList(HostServer.MAX_HTTP_CONNECTIONS, idle.size())) {
                assertEquals(-1, s.getInputStream().read(), "a connection over the bound is closed");
            }
            // A request while the bound is taken is refused the same way.
            assertEquals(-1, get(port), "the bound is taken");
        } finally {
            for (Socket s : idle) {
                s.close();
            }
        }
        // The held connections end (the host reads end of stream and frees their slots): it serves again.
        int status = -1;
        for (int attempt = 0; attempt < 10_000 && status != 200; attempt++) {
            status = get(port);
        }
        assertEquals(200, status);
        server.close();
    }

    /** GET /metrics: the status code, or -1 when the host closed the connection without an answer. */
    private static int get(int port) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(120_000);
            OutputStream out = s.getOutputStream();
            try {
                out.write(("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
            } catch (java.io.IOException e) {
                return -1; // closed before the request went out
            }
            InputStream in = s.getInputStream();
            byte[] head = in.readNBytes(12);
            if (head.length < 12) {
                return -1;
            }
            String line = new String(head, StandardCharsets.ISO_8859_1);
            assertTrue(line.startsWith("HTTP/1.1 "), line);
            return Integer.parseInt(line.substring(9, 12));
        } catch (java.net.SocketException e) {
            return -1; // reset: closed by the host
        }
    }
}
