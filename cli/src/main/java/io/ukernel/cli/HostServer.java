package io.ukernel.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Accepts connections on the host's Unix socket (full API) and, when asked, a loopback TCP port (read-only: the
 * status page, /apps, /metrics, logs), one virtual thread per connection, one request per connection.
 */
final class HostServer implements AutoCloseable {
    /**
     * Most connections the loopback TCP listener holds at once (each one a descriptor and a thread while its
     * request is read); more are closed at once. Any local user can reach that port: without a bound, idle
     * connections took every descriptor the host's JVM may open, and then no app could start a worker.
     */
    static final int MAX_HTTP_CONNECTIONS = 64;

    private final HostApi api;
    private final java.util.concurrent.Semaphore httpSlots = new java.util.concurrent.Semaphore(MAX_HTTP_CONNECTIONS);
    private final ServerSocketChannel unix;
    private final ServerSocketChannel tcp;
    private final Path socket;

    private HostServer(HostApi api, ServerSocketChannel unix, Path socket, ServerSocketChannel tcp) {
        this.api = api;
        this.unix = unix;
        this.socket = socket;
        this.tcp = tcp;
    }

    /**
     * Binds {@code socket} (its directory made 0700, the socket 0600; a stale socket file is replaced: the caller
     * holds the host lock) and, when {@code http} is not null, a TCP listener on that loopback address.
     */
    static HostServer open(HostApi api, Path socket, InetSocketAddress http) throws IOException {
        Path dir = socket.getParent();
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Files.deleteIfExists(socket);
        ServerSocketChannel u = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        u.bind(UnixDomainSocketAddress.of(socket));
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        ServerSocketChannel t = null;
        if (http != null) {
            if (!http.getAddress().isLoopbackAddress()) {
                u.close();
                throw new IOException("--http listens on loopback only (127.0.0.1:PORT or [::1]:PORT), got " + http);
            }
            t = ServerSocketChannel.open();
            t.bind(http);
        }
        return new HostServer(api, u, socket, t);
    }

    /** The TCP port of {@code --http}, or -1. */
    int httpPort() throws IOException {
        return tcp == null ? -1 : ((InetSocketAddress) tcp.getLocalAddress()).getPort();
    }

    /** Starts the accept loops on their own threads. */
    void start() {
        Thread.ofPlatform().daemon().name("host-api-unix").start(() -> accept(unix, false));
        if (tcp != null) {
            Thread.ofPlatform().daemon().name("host-api-http").start(() -> accept(tcp, true));
        }
    }

    private void accept(ServerSocketChannel server, boolean readOnly) {
        while (server.isOpen()) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (IOException e) {
                return;                                 // closed
            }
            if (readOnly && !httpSlots.tryAcquire()) {
                try {
                    ch.close();                         // over MAX_HTTP_CONNECTIONS: refused, never read
                } catch (IOException ignored) {
                    // gone already
                }
                continue;
            }
            Thread.ofVirtual().start(() -> {
                try {
                    serve(ch, readOnly);
                } finally {
                    if (readOnly) {
                        httpSlots.release();
                    }
                }
            });
        }
    }

    private void serve(SocketChannel ch, boolean readOnly) {
        try (ch) {
            InputStream in = new java.io.BufferedInputStream(Channels.newInputStream(ch));
            OutputStream out = Channels.newOutputStream(ch);
            HostHttp.Response response;
            try {
                response = api.handle(HostHttp.read(in), readOnly);
            } catch (HostHttp.BadRequest e) {
                response = HostApi.error(400, e.getMessage());
            }
            HostHttp.write(out, response);
        } catch (IOException e) {
            // the client went away
        }
        api.answered();
    }

    @Override
    public void close() {
        try {
            unix.close();
            if (tcp != null) {
                tcp.close();
            }
            Files.deleteIfExists(socket);
        } catch (IOException ignored) {
            // ending anyway
        }
    }
}
