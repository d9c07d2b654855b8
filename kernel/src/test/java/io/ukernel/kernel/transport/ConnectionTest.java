package io.ukernel.kernel.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Call;
import io.ukernel.abi.Decoded;
import io.ukernel.abi.Frame;
import io.ukernel.abi.FrameCodec;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Reactor;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.caps.CapabilitySet;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A connection on a real Unix socket pair driven by a real reactor, with a session that answers every call. */
class ConnectionTest {
    static final int REPLY_PAYLOAD = 4096;
    static final int REQUESTS = 20_000; // 80 MB of replies if nothing pushed back

    final List<Throwable> bugs = new CopyOnWriteArrayList<>();
    final Task task = TestTasks.task(1, "t", new CapabilitySet(0));
    Reactor reactor;
    Thread loop;
    Connection conn;
    int served; // reactor thread

    final Session session = new Session() {
        @Override
        public Optional<Task> attach(String token, Connection c) {
            return Optional.of(task);
        }

        @Override
        public Frame.Reply dispatch(Task t, Frame.Request request) {
            served++;
            return Frame.Reply.ok(request.seq(), Value.of(new byte[REPLY_PAYLOAD]));
        }

        @Override
        public void detached(Task t, Connection c, String reason, boolean protocolError) {}
    };

    @AfterEach
    void stop() throws Exception {
        if (reactor != null) {
            reactor.stop();
            loop.join(10_000);
        }
        assertTrue(bugs.isEmpty(), bugs.toString());
    }

    SocketChannel connect(Path dir) throws Exception {
        reactor = new Reactor(bugs::add);
        loop = Thread.ofPlatform().start(reactor::run);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(dir.resolve("s.sock")));
        SocketChannel client = SocketChannel.open(StandardProtocolFamily.UNIX);
        client.connect(UnixDomainSocketAddress.of(dir.resolve("s.sock")));
        SocketChannel side = server.accept();
        server.close();
        onReactor(() -> {
            try {
                conn = new Connection(side, session);
                conn.registered(reactor.register(side, SelectionKey.OP_READ, conn));
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
            return null;
        });
        return client;
    }

    <T> T onReactor(Supplier<T> s) throws Exception {
        CompletableFuture<T> f = new CompletableFuture<>();
        reactor.execute(() -> f.complete(s.get()));
        return f.get(30, TimeUnit.SECONDS);
    }

    static ByteBuffer requests(int n) {
        Frame hello = new Frame.Request(1, Call.HELLO, Value.of(new byte[Abi.TOKEN_BYTES]), Value.of(Abi.VERSION));
        Frame one = new Frame.Request(2, Call.ABI_VERSION);
        ByteBuffer b = ByteBuffer.allocate(FrameCodec.size(hello) + n * FrameCodec.size(one))
                .order(ByteOrder.LITTLE_ENDIAN);
        FrameCodec.encode(hello, b);
        for (int i = 0; i < n; i++) {
            FrameCodec.encode(new Frame.Request(2 + i, Call.ABI_VERSION), b);
        }
        return b.flip();
    }

    @Test
    void pipelinedRequests_repliesNotRead_backlogBounded_servingPaused_thenEveryReplyArrives(@TempDir Path dir)
            throws Exception {
        SocketChannel client = connect(dir);
        ByteBuffer out = requests(REQUESTS);
        // The worker writes everything and reads nothing (its writes block once the kernel stops reading).
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                while (out.hasRemaining()) {
                    client.write(out);
                }
            } catch (java.io.IOException e) {
                bugs.add(e);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!onReactor(() -> conn.paused())) {
            assertTrue(System.nanoTime() < deadline, "the connection never paused; replies pending: "
                    + onReactor(() -> conn.pendingReplyBytes()));
            Thread.onSpinWait();
        }
        int pending = onReactor(() -> conn.pendingReplyBytes());
        int servedWhilePaused = onReactor(() -> served);
        assertTrue(pending <= Connection.REPLY_BACKLOG + FrameCodec.size(Frame.Reply.ok(0,
                Value.of(new byte[REPLY_PAYLOAD]))), "reply backlog " + pending + " beyond the bound");
        assertTrue(servedWhilePaused < REQUESTS, "every request was served although no reply was read");

        // Now the worker reads: every reply arrives, in order, none lost.
        ByteBuffer in = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        int next = 1;
        while (next <= REQUESTS + 1) {
            assertTrue(client.read(in) >= 0, "connection closed after " + next);
            in.flip();
            while (FrameCodec.decodeReply(in) instanceof Decoded.Whole<Frame.Reply> w) {
                assertEquals(next, w.frame().seq());
                assertEquals(Status.OK, w.frame().status());
                next++;
                in.position(in.position() + w.consumed());
            }
            in.compact();
        }
        writer.join(30_000);
        assertEquals(REQUESTS, (int) onReactor(() -> served));
        assertTrue(!onReactor(() -> conn.paused()));
        client.close();
    }

    @Test
    void replyNow_whilePaused_isQueuedNotLost_andServingResumesOnDrain(@TempDir Path dir) throws Exception {
        SocketChannel client = connect(dir);
        ByteBuffer out = requests(REQUESTS);
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                while (out.hasRemaining()) {
                    client.write(out);
                }
            } catch (java.io.IOException e) {
                bugs.add(e);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!onReactor(() -> conn.paused())) {
            assertTrue(System.nanoTime() < deadline, "the connection never paused");
            Thread.onSpinWait();
        }
        // A parked call completes while the connection is paused: its reply is queued behind the others.
        onReactor(() -> {
            conn.replyNow(Frame.Reply.ok(999_999));
            return null;
        });
        ByteBuffer in = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        int seen = 0;
        boolean late = false;
        while (seen < REQUESTS + 2) {
            assertTrue(client.read(in) >= 0);
            in.flip();
            while (FrameCodec.decodeReply(in) instanceof Decoded.Whole<Frame.Reply> w) {
                late |= w.frame().seq() == 999_999;
                seen++;
                in.position(in.position() + w.consumed());
            }
            in.compact();
        }
        writer.join(30_000);
        assertTrue(late, "the parked call's reply was lost");
        client.close();
    }
}
