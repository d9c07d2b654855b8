package io.ukernel.kernel.transport;

import io.ukernel.kernel.Reactor;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The kernel's listening Unix socket. It lives in a fresh directory only the kernel's user can enter (mode 0700),
 * and a connection is worth nothing until it presents a task's one-time token.
 */
public final class Endpoint implements Reactor.Handler, AutoCloseable {
    private final Path dir;
    private final Path path;
    private final ServerSocketChannel server;
    private final Reactor reactor;
    private final Session session;

    private Endpoint(Path dir, Path path, ServerSocketChannel server, Reactor reactor, Session session) {
        this.dir = dir;
        this.path = path;
        this.server = server;
        this.reactor = reactor;
        this.session = session;
    }

    /** Creates the socket in a new private directory and registers it with the reactor (reactor thread). */
    public static Endpoint open(Reactor reactor, Session session) throws IOException {
        Path base = Path.of(System.getProperty("java.io.tmpdir"));
        Path dir = Files.createTempDirectory(base, "ukernel-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path path = dir.resolve("abi.sock");
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path), 64);
        Endpoint e = new Endpoint(dir, path, server, reactor, session);
        reactor.register(server, SelectionKey.OP_ACCEPT, e);
        return e;
    }

    public Path path() {
        return path;
    }

    @Override
    public void ready(SelectionKey key) throws IOException {
        for (SocketChannel ch; (ch = server.accept()) != null; ) {
            Connection c = new Connection(ch, session);
            c.registered(reactor.register(ch, SelectionKey.OP_READ, c));
        }
    }

    @Override
    public void close() {
        try {
            server.close();
            Files.deleteIfExists(path);
            Files.deleteIfExists(dir);
        } catch (IOException ignored) {
            // best effort: the directory is private and in tmp
        }
    }
}
