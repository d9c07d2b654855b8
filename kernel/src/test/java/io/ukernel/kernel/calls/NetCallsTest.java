package io.ukernel.kernel.calls;

import static io.ukernel.kernel.net.LiveKernel.bytes;
import static io.ukernel.kernel.net.LiveKernel.check;
import static io.ukernel.kernel.net.LiveKernel.i64;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Call;
import io.ukernel.abi.Event;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.TestTasks;
import io.ukernel.kernel.net.LiveKernel;
import io.ukernel.kernel.net.NetSocket;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The net calls through the real dispatcher, on a running reactor, over real TCP on 127.0.0.1 only. */
@Timeout(value = 300, unit = TimeUnit.SECONDS) // bounds a hang only: every wait ends on its event
class NetCallsTest {
    static final long R = Event.READABLE.bit();
    static final long W = Event.WRITABLE.bit();
    static final long HUP = Event.HANGUP.bit();
    static final long ERR = Event.ERROR.bit();
    static final long WAIT_NS = TimeUnit.MILLISECONDS.toNanos(LiveKernel.WAIT_MS);
    static final String LOOP = "127.0.0.1";

    LiveKernel k = new LiveKernel(List.of(LOOP + ":*"), List.of(LOOP + ":*"), 1 << 20);
    Task task = k.task(1);

    @AfterEach
    void stop() {
        k.close();
    }

    // --- helpers -------------------------------------------------------------------------------------------

    Frame.Reply call(Call c, Value... args) {
        return k.call(task, c, args);
    }

    long socket() {
        return i64(check(call(Call.NET_SOCKET, Value.of(4), Value.of(1)), Status.OK), 0);
    }

    long listener() {
        long h = socket();
        check(call(Call.NET_BIND, Value.of(h), Value.of(LOOP), Value.of(0)), Status.OK);
        check(call(Call.NET_LISTEN, Value.of(h), Value.of(0)), Status.OK);
        return h;
    }

    int localPort(long h) {
        return (int) i64(check(call(Call.NET_ADDR, Value.of(h), Value.of(0)), Status.OK), 1);
    }

    /** A kernel socket connected to {@code port}: connect, wait for WRITABLE, net_error OK. */
    long connectTo(int port) {
        long h = socket();
        Frame.Reply r = call(Call.NET_CONNECT, Value.of(h), Value.of(LOOP), Value.of(port));
        assertTrue(r.status() == Status.OK || r.status() == Status.ERR_INPROGRESS, r.toString());
        assertEquals(W, k.events(task, h, W, WAIT_NS) & W);
        assertEquals(Status.OK.code(), i64(check(call(Call.NET_ERROR, Value.of(h)), Status.OK), 0));
        return h;
    }

    long acceptFrom(long listener) {
        assertEquals(R, k.events(task, listener, R, WAIT_NS));
        return i64(check(call(Call.NET_ACCEPT, Value.of(listener)), Status.OK), 0);
    }

    long send(long h, byte[] data) {
        return i64(check(call(Call.NET_SEND, Value.of(h), Value.of(data)), Status.OK), 0);
    }

    /** Receives until {@code n} bytes or end of stream, polling between tries. */
    byte[] recv(long h, int n) {
        byte[] out = new byte[0];
        while (out.length < n) {
            assertTrue((k.events(task, h, R, WAIT_NS) & (R | HUP | ERR)) != 0, "nothing to read");
            byte[] b = bytes(check(call(Call.NET_RECV, Value.of(h), Value.of(n - out.length)), Status.OK), 0);
            if (b.length == 0) {
                break;
            }
            out = concat(out, b);
        }
        return out;
    }

    boolean atEof(long h) {
        return bytes(check(call(Call.NET_RECV, Value.of(h), Value.of(100)), Status.OK), 0).length == 0;
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static Socket javaClient(int port) throws IOException {
        Socket s = new Socket();
        s.setSoTimeout((int) LiveKernel.WAIT_MS);
        s.connect(new InetSocketAddress(LOOP, port), (int) LiveKernel.WAIT_MS);
        return s;
    }

    /**
     * A loopback port held by a bound socket that does not listen: connecting to it is refused, and no other
     * process can take the port while the socket is open (a closed port could be reused by anyone meanwhile).
     */
    static Socket refusingPort() throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(LOOP, 0));
        return s;
    }

    // --- tests ---------------------------------------------------------------------------------------------

    @Test
    void socket_streamAndDatagramAreCreated_otherValuesAreInval() {
        assertTrue(socket() > 0, "a positive handle number");
        assertTrue(i64(check(call(Call.NET_SOCKET, Value.of(4), Value.of(2)), Status.OK), 0) > 0, "UDP (1.2)");
        assertEquals(Status.ERR_INVAL, call(Call.NET_SOCKET, Value.of(4), Value.of(2 | 0x100)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_SOCKET, Value.of(5), Value.of(1)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_SOCKET, Value.of(4), Value.of(3)).status());
    }

    @Test
    void roundTrip_betweenTwoKernelSockets() {
        long lis = listener();
        int port = localPort(lis);
        long client = connectTo(port);
        assertEquals(R, k.events(task, lis, R, WAIT_NS));
        Frame.Reply acc = check(call(Call.NET_ACCEPT, Value.of(lis)), Status.OK);
        long server = i64(acc, 0);
        assertEquals(LOOP, new String(bytes(acc, 1), StandardCharsets.UTF_8));
        assertEquals(localPort(client), i64(acc, 2));
        Frame.Reply peer = check(call(Call.NET_ADDR, Value.of(client), Value.of(1)), Status.OK);
        assertEquals(port, i64(peer, 1));

        assertEquals(4, send(client, utf8("ping")));
        assertArrayEquals(utf8("ping"), recv(server, 4));
        assertEquals(4, send(server, utf8("pong")));
        assertArrayEquals(utf8("pong"), recv(client, 4));

        check(call(Call.NET_SHUTDOWN, Value.of(client), Value.of(2)), Status.OK);
        assertEquals(R, k.events(task, server, R, WAIT_NS) & R);
        assertTrue(atEof(server));
        assertTrue(atEof(server), "end of stream stays");
        assertEquals(Status.ERR_CLOSED, call(Call.NET_SEND, Value.of(client), Value.of("x")).status());
        assertEquals(Status.ERR_WOULDBLOCK, call(Call.NET_RECV, Value.of(client), Value.of(10)).status());
        check(call(Call.NET_CLOSE, Value.of(server)), Status.OK);
        assertTrue(recv(client, 1).length == 0, "the peer's close is end of stream");
    }

    @Test
    void roundTrip_kernelListenerAndPlainJavaClient() throws IOException {
        long lis = listener();
        try (Socket js = javaClient(localPort(lis))) {
            long conn = acceptFrom(lis);
            js.getOutputStream().write(utf8("hello"));
            assertArrayEquals(utf8("hello"), recv(conn, 5));
            send(conn, utf8("world"));
            check(call(Call.NET_SHUTDOWN, Value.of(conn), Value.of(2)), Status.OK);
            assertArrayEquals(utf8("world"), js.getInputStream().readAllBytes(), "then end of stream");
            js.shutdownOutput();
            assertEquals(0, recv(conn, 1).length);
        }
    }

    @Test
    void roundTrip_kernelClientAndPlainJavaServer() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 4, InetAddress.getByName(LOOP))) {
            ss.setSoTimeout((int) LiveKernel.WAIT_MS);
            long h = connectTo(ss.getLocalPort());
            try (Socket js = ss.accept()) {
                js.setSoTimeout((int) LiveKernel.WAIT_MS);
                send(h, utf8("GET"));
                assertArrayEquals(utf8("GET"), js.getInputStream().readNBytes(3));
                js.getOutputStream().write(utf8("200 OK"));
                js.shutdownOutput();
                assertArrayEquals(utf8("200 OK"), recv(h, 100));
                assertTrue(atEof(h));
            }
        }
    }

    static final long DIRECT = io.ukernel.abi.NetConst.DIRECT.value();

    /** What the host says descriptor {@code fd} of this process is, e.g. {@code socket:[123]}. */
    static String fdTarget(int fd) throws IOException {
        return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + fd)).toString();
    }

    @Test
    void direct_connectParksUntilConnected_thenIsGranted_kernelKeepsItsReference_closeRevokes() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 4, InetAddress.getByName(LOOP))) {
            ss.setSoTimeout((int) LiveKernel.WAIT_MS);
            long h = i64(check(call(Call.NET_SOCKET, Value.of(4), Value.of(1 | DIRECT)), Status.OK), 0);
            Frame.Reply r = k.callLater(task, Call.NET_CONNECT, Value.of(h), Value.of(LOOP),
                    Value.of(ss.getLocalPort())).get();
            check(r, Status.OK);
            assertTrue(r.granted(), "a direct connect's reply carries the descriptor");
            int fd = k.onReactor(task::takeGrant);
            assertTrue(fd >= 0 && fdTarget(fd).startsWith("socket:"), "a socket descriptor was staged");
            assertEquals(-1, k.onReactor(task::takeGrant), "one descriptor per granted reply");
            try (Socket js = ss.accept()) {
                js.setSoTimeout((int) LiveKernel.WAIT_MS);
                Frame.Reply peer = check(call(Call.NET_ADDR, Value.of(h), Value.of(1)), Status.OK);
                assertEquals(ss.getLocalPort(), i64(peer, 1), "net_addr answers for a granted socket");
                assertEquals(Status.ERR_BUSY, call(Call.NET_SEND, Value.of(h), Value.of("x")).status());
                assertEquals(Status.ERR_BUSY, call(Call.NET_RECV, Value.of(h), Value.of(10)).status());
                check(call(Call.NET_CLOSE, Value.of(h)), Status.OK);
                // The staged copy is still open here (as a worker's descriptor would be): the revocation is the
                // kernel's shutdown, not the last close.
                assertEquals(-1, js.getInputStream().read(), "the peer sees the end of the stream");
            } finally {
                io.ukernel.kernel.io.RawFd.close(fd);
            }
            assertTrue(k.console().contains("net_connect: socket " + h + " "), k.console()); // INFO: a connect
            assertTrue(k.console().contains("granted: the worker holds its descriptor"), k.console());
        }
    }

    @Test
    void direct_connectToAClosedPort_answersTheFailureInTheParkedReply() throws IOException {
        long h = i64(check(call(Call.NET_SOCKET, Value.of(4), Value.of(1 | DIRECT)), Status.OK), 0);
        Frame.Reply r;
        try (Socket held = refusingPort()) {
            r = k.callLater(task, Call.NET_CONNECT, Value.of(h), Value.of(LOOP), Value.of(held.getLocalPort())).get();
        }
        assertEquals(Status.ERR_REFUSED, r.status());
        assertEquals(-1, k.onReactor(task::takeGrant), "nothing staged for a failure");
    }

    @Test
    void direct_listener_grantsEachAcceptedConnection_andAGrantedHandleCannotMove() throws IOException {
        long l = i64(check(call(Call.NET_SOCKET, Value.of(4), Value.of(1 | DIRECT)), Status.OK), 0);
        check(call(Call.NET_BIND, Value.of(l), Value.of(LOOP), Value.of(0)), Status.OK);
        check(call(Call.NET_LISTEN, Value.of(l), Value.of(0)), Status.OK);
        try (Socket js = javaClient(localPort(l))) {
            assertEquals(R, k.events(task, l, R, WAIT_NS));
            Frame.Reply r = check(call(Call.NET_ACCEPT, Value.of(l)), Status.OK);
            assertTrue(r.granted());
            int fd = k.onReactor(task::takeGrant);
            try {
                assertTrue(fdTarget(fd).startsWith("socket:"));
                assertEquals(js.getLocalPort(), i64(r, 2), "the peer's port is in the reply");
                long conn = i64(r, 0);
                Frame.Reply pair = check(call(Call.IPC_CHANNEL_CREATE), Status.OK);
                assertEquals(Status.ERR_BUSY, call(Call.IPC_SEND, Value.of(i64(pair, 0)), Value.of("h"),
                        Value.of(new long[] {conn})).status());
                check(call(Call.HANDLE_CLOSE, Value.of(conn)), Status.OK);
                assertEquals(-1, js.getInputStream().read(), "closing the handle ends the connection");
            } finally {
                io.ukernel.kernel.io.RawFd.close(fd);
            }
        }
    }

    @Test
    void connect_toAClosedPort_isInProgress_thenWritableAndError_withRefusedFromNetError() throws IOException {
        long h = socket();
        Frame.Reply r;
        try (Socket held = refusingPort()) {
            r = call(Call.NET_CONNECT, Value.of(h), Value.of(LOOP), Value.of(held.getLocalPort()));
            if (r.status() == Status.ERR_REFUSED) {
                return; // a host that refuses at once is allowed to say so in the call
            }
            assertEquals(Status.ERR_INPROGRESS, r.status());
            assertEquals(W | ERR, k.events(task, h, W, WAIT_NS), "the refusal arrives while the port is held");
        }
        assertEquals(Status.ERR_REFUSED.code(), i64(check(call(Call.NET_ERROR, Value.of(h)), Status.OK), 0));
        assertEquals(Status.OK.code(), i64(call(Call.NET_ERROR, Value.of(h)), 0), "taken: cleared");
        assertEquals(W, k.events(task, h, W, 0), "ERROR cleared with it");
        assertEquals(Status.ERR_CLOSED, call(Call.NET_SEND, Value.of(h), Value.of("x")).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_CONNECT, Value.of(h), Value.of(LOOP), Value.of(80)).status());
    }

    @Test
    void bind_outsideNetBind_isDenied_andTheConsoleNamesTheRuleToAdd() {
        k.close();
        k = new LiveKernel(List.of(), List.of(LOOP + ":8080"), 1 << 20);
        task = k.task(2);
        long h = socket();
        assertEquals(Status.ERR_DENIED, call(Call.NET_BIND, Value.of(h), Value.of(LOOP), Value.of(0)).status());
        assertEquals(Status.ERR_DENIED, call(Call.NET_BIND, Value.of(h), Value.of(""), Value.of(8080)).status());
        assertTrue(k.console().contains("net_bind 127.0.0.1:0 denied: no net.bind rule matches; allow \"127.0.0.1:0\""
                + " in net.bind of the app's policy"), k.console());
        assertTrue(k.console().contains("allow \"0.0.0.0:8080\""), k.console());
    }

    @Test
    void connect_outsideNetConnect_isDeniedInTheCall_withAConsoleLine() throws IOException {
        k.close();
        k = new LiveKernel(List.of(LOOP + ":1", "localhost:2"), List.of(), 1 << 20);
        task = k.task(2);
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getByName(LOOP))) {
            int port = ss.getLocalPort();
            long h = socket();
            assertEquals(Status.ERR_DENIED, call(Call.NET_CONNECT, Value.of(h), Value.of(LOOP), Value.of(port))
                    .status());
            assertTrue(k.console().contains("net_connect 127.0.0.1:" + port + " denied: no net.connect rule"
                    + " matches; allow \"127.0.0.1:" + port + "\" in net.connect of the app's policy"), k.console());
            // A name no rule names, with no IP rule for its port: denied without looking it up.
            assertEquals(Status.ERR_DENIED, call(Call.NET_CONNECT, Value.of(h), Value.of("db.example.com"),
                    Value.of(5432)).status());
            assertTrue(k.console().contains("allow \"db.example.com:5432\""), k.console());
            assertEquals(NetSocket.State.FRESH, state(h), "a denied connect leaves the socket as it was");
        }
    }

    @Test
    void connect_localhost_matchesANameRuleOrTheLoopbackAddressRule() throws IOException {
        try (ServerSocket ss = new ServerSocket(0, 4, InetAddress.getByName(LOOP))) {
            int port = ss.getLocalPort();
            for (List<String> rules : List.of(List.of("localhost:" + port), List.of(LOOP + ":" + port))) {
                k.close();
                k = new LiveKernel(rules, List.of(), 1 << 20);
                task = k.task(3);
                long h = socket();
                Status st = call(Call.NET_CONNECT, Value.of(h), Value.of("LocalHost"), Value.of(port)).status();
                assertTrue(st == Status.OK || st == Status.ERR_INPROGRESS, rules + ": " + st);
                assertEquals(W, k.events(task, h, W, WAIT_NS));
            }
            k.close();
            k = new LiveKernel(List.of("localhost:" + port), List.of(), 1 << 20);
            task = k.task(4);
            assertEquals(Status.ERR_DENIED, call(Call.NET_CONNECT, Value.of(socket()), Value.of(LOOP),
                    Value.of(port)).status(), "a name rule does not allow the literal");
        }
    }

    @Test
    void bind_toAPortSomeoneListensOn_isAddrInUse() throws IOException {
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getByName(LOOP))) {
            long h = socket();
            assertEquals(Status.ERR_ADDRINUSE, call(Call.NET_BIND, Value.of(h), Value.of(LOOP),
                    Value.of(ss.getLocalPort())).status());
            assertEquals(Status.ERR_INVAL, call(Call.NET_LISTEN, Value.of(h), Value.of(0)).status(), "not bound");
        }
        long a = listener();
        long b = socket();
        assertEquals(Status.ERR_ADDRINUSE, call(Call.NET_BIND, Value.of(b), Value.of(LOOP),
                Value.of(localPort(a))).status());
    }

    @Test
    void send_fillsUntilWouldBlock_andWritableReturnsWhenThePeerDrains() throws Exception {
        k.close();
        k = new LiveKernel(List.of(), List.of(LOOP + ":*"), 64 * 1024);
        task = k.task(5);
        long lis = listener();
        try (Socket js = new Socket()) {
            js.setReceiveBufferSize(4096);
            js.setSoTimeout((int) LiveKernel.WAIT_MS);
            js.connect(new InetSocketAddress(LOOP, localPort(lis)));
            long conn = acceptFrom(lis);
            byte[] chunk = new byte[16 * 1024];
            long queued = 0;
            Frame.Reply r;
            List<Frame.Reply> turn;
            int tries = 0;
            // each send is polled in the same reactor turn: the host cannot drain the buffer between the two
            while ((r = (turn = k.inOneTurn(task, k.request(Call.NET_SEND, Value.of(conn), Value.of(chunk)),
                    k.request(Call.IO_POLL, Value.of(new long[] {conn, W}), Value.of(0L)))).get(0)).status()
                    == Status.OK) {
                queued += i64(r, 0);
                assertTrue(++tries < 5_000, "the send buffer never filled");
            }
            assertEquals(Status.ERR_WOULDBLOCK, r.status());
            assertEquals(0, ((Value.I64s) check(turn.get(1), Status.OK).values().get(0)).value().length,
                    "not WRITABLE while full");
            long total = queued;
            CompletableFuture<Long> drained = CompletableFuture.supplyAsync(() -> drain(js, total));
            assertEquals(W, k.events(task, conn, W, WAIT_NS), "WRITABLE again once the peer reads");
            assertEquals(total, drained.get(LiveKernel.WAIT_MS, TimeUnit.MILLISECONDS));
        }
    }

    @Test
    void send_beyondNetBytes_takesNothingOnAnySocketOfTheTask_lingeringBytesCount_roomReturnsOnDrain()
            throws Exception {
        k.close();
        k = new LiveKernel(List.of(), List.of(LOOP + ":*"), 1 << 20);
        long budget = 256 * 1024;
        task = k.task(7, budget);
        long lis = listener();
        try (Socket js1 = new Socket(); Socket js2 = new Socket()) {
            for (Socket js : List.of(js1, js2)) {
                js.setReceiveBufferSize(4096);
                js.setSoTimeout((int) LiveKernel.WAIT_MS);
                js.connect(new InetSocketAddress(LOOP, localPort(lis)));
            }
            long c1 = acceptFrom(lis);
            long c2 = acceptFrom(lis);
            byte[] chunk = new byte[16 * 1024];
            long queued = 0;
            Frame.Reply r;
            int tries = 0;
            while ((r = call(Call.NET_SEND, Value.of(c1), Value.of(chunk))).status() == Status.OK) {
                queued += i64(r, 0);
                assertTrue(++tries < 5_000, "the send buffer never filled");
            }
            // c1's own buffer (1 MiB) is not full: the task's total is.
            assertEquals(budget, (long) k.onReactor(() -> task.handles().account().netBytes()));
            assertEquals(Status.ERR_WOULDBLOCK, call(Call.NET_SEND, Value.of(c2), Value.of(chunk)).status(),
                    "another socket of the task takes nothing either");
            assertEquals(0, k.events(task, c2, W, 0), "and is not WRITABLE");
            // Closing c1 does not free its bytes: they linger (still sent), still charged.
            check(call(Call.NET_CLOSE, Value.of(c1)), Status.OK);
            assertEquals(budget, (long) k.onReactor(() -> task.handles().account().netBytes()));
            assertEquals(1, (long) k.onReactor(() -> task.handles().account().handles()),
                    "the lingering socket keeps its place in limits.handles");
            long total = queued;
            CompletableFuture<Long> drained = CompletableFuture.supplyAsync(() -> drain(js1, total));
            assertEquals(W, k.events(task, c2, W, WAIT_NS), "c2 is WRITABLE again once c1's bytes left");
            assertEquals(total, drained.get(LiveKernel.WAIT_MS, TimeUnit.MILLISECONDS));
            assertEquals(Status.OK, call(Call.NET_SEND, Value.of(c2), Value.of(chunk)).status());
            // Everything sent and the end of stream read by the peer: the lingering socket is gone, its place too.
            assertEquals(-1, js1.getInputStream().read());
            long deadline = System.nanoTime() + WAIT_NS;
            while (k.onReactor(() -> task.handles().account().handles()) != 0) {
                assertTrue(System.nanoTime() < deadline, "the lingering socket never finished");
                Thread.onSpinWait();
            }
        }
    }

    @Test
    void listener_queuesNoConnectionBeyondTheCreatorsHandleRoom_andResumesWhenRoomReturns() throws Exception {
        task = k.task(8, io.ukernel.kernel.policy.Policy.Limits.DEFAULT_NET_BYTES); // limits.handles = 64
        long lis = listener();
        long[] filler = new long[62];
        for (int i = 0; i < filler.length; i++) {
            filler[i] = socket();
        }
        List<Socket> clients = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Socket js = new Socket();
                js.connect(new InetSocketAddress(LOOP, localPort(lis)));
                clients.add(js);
            }
            long first = acceptFrom(lis); // the one connection there was room for; now the table is full
            assertEquals(0, (long) k.onReactor(() -> task.handles().room()));
            assertEquals(0, (long) k.onReactor(() -> task.handles().account().handles()), "nothing else queued");
            assertEquals(0, k.events(task, lis, R, TimeUnit.MILLISECONDS.toNanos(300)),
                    "the other two wait in the host's backlog, not in the kernel");
            check(call(Call.NET_CLOSE, Value.of(filler[0])), Status.OK);
            assertEquals(R, k.events(task, lis, R, WAIT_NS), "room again: the listener queues the next one");
            assertEquals(Status.OK, call(Call.NET_ACCEPT, Value.of(lis)).status());
            assertTrue(first > 0);
        } finally {
            for (Socket js : clients) {
                js.close();
            }
        }
    }

    static long drain(Socket js, long n) {
        try {
            InputStream in = js.getInputStream();
            byte[] buf = new byte[64 * 1024];
            long got = 0;
            for (int m; got < n && (m = in.read(buf)) > 0; ) {
                got += m;
            }
            return got;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void close_stillSendsWhatWasQueued_thenEndOfStream() throws Exception {
        k.close();
        k = new LiveKernel(List.of(), List.of(LOOP + ":*"), 256 * 1024);
        task = k.task(6);
        long lis = listener();
        try (Socket js = new Socket()) {
            js.setReceiveBufferSize(4096);
            js.setSoTimeout((int) LiveKernel.WAIT_MS);
            js.connect(new InetSocketAddress(LOOP, localPort(lis)));
            long conn = acceptFrom(lis);
            byte[] chunk = new byte[32 * 1024];
            Arrays.fill(chunk, (byte) 7);
            long queued = 0;
            Frame.Reply r;
            while ((r = call(Call.NET_SEND, Value.of(conn), Value.of(chunk))).status() == Status.OK) {
                queued += i64(r, 0);
            }
            check(call(Call.NET_CLOSE, Value.of(conn)), Status.OK);
            assertEquals(Status.ERR_BADHANDLE, call(Call.NET_SEND, Value.of(conn), Value.of("x")).status());
            byte[] all = js.getInputStream().readAllBytes();
            assertEquals(queued, all.length, "everything queued arrives, then end of stream");
        }
    }

    @Test
    void poll_listenerIsReadableOnlyWhileAConnectionIsPending() throws IOException {
        long lis = listener();
        assertEquals(0, k.poll(task, 30_000_000L, lis, R).length, "timeout: nothing pending");
        assertEquals(Status.ERR_WOULDBLOCK, call(Call.NET_ACCEPT, Value.of(lis)).status());
        var parked = k.pollLater(task, -1, lis, R);
        try (Socket js = javaClient(localPort(lis))) {
            assertArrayEquals(new long[] {lis, R}, parked.get());
            long conn = i64(check(call(Call.NET_ACCEPT, Value.of(lis)), Status.OK), 0);
            assertEquals(js.getLocalPort(), i64(check(call(Call.NET_ADDR, Value.of(conn), Value.of(1)), Status.OK),
                    1));
            assertEquals(0, k.events(task, lis, R, 0), "taken: no longer readable");
        }
    }

    @Test
    void poll_connectionReadableWritable_thenHangupWhenBothDirectionsAreClosed() throws IOException {
        long lis = listener();
        try (Socket js = javaClient(localPort(lis))) {
            long conn = acceptFrom(lis);
            assertEquals(W, k.events(task, conn, R | W, 0));
            var parked = k.pollLater(task, WAIT_NS, conn, R);
            js.getOutputStream().write(utf8("abc"));
            assertArrayEquals(new long[] {conn, R}, parked.get());
            assertEquals(R | W, k.events(task, conn, R | W, 0));
            assertArrayEquals(utf8("abc"), recv(conn, 3));
            js.shutdownOutput();
            assertEquals(R, k.events(task, conn, R, WAIT_NS), "end of stream is readable, not yet a hangup");
            assertTrue(atEof(conn));
            check(call(Call.NET_SHUTDOWN, Value.of(conn), Value.of(2)), Status.OK);
            assertEquals(R | HUP, k.events(task, conn, R | W, 0), "closed both ways");
        }
    }

    @Test
    void peerReset_isHangupAndError_andNetErrorSaysClosed() throws IOException {
        long lis = listener();
        long conn;
        try (Socket js = javaClient(localPort(lis))) {
            conn = acceptFrom(lis);
            js.setSoLinger(true, 0); // close with RST
        }
        assertEquals(HUP | ERR, k.events(task, conn, 0, WAIT_NS) & (HUP | ERR));
        assertEquals(Status.ERR_CLOSED, call(Call.NET_RECV, Value.of(conn), Value.of(10)).status());
        assertEquals(Status.ERR_CLOSED, call(Call.NET_SEND, Value.of(conn), Value.of("x")).status());
        assertEquals(Status.ERR_CLOSED.code(), i64(call(Call.NET_ERROR, Value.of(conn)), 0));
        assertEquals(HUP, k.events(task, conn, 0, 0));
    }

    @Test
    void closingASocketWhilePolled_reportsErrorForIt() {
        long lis = listener();
        var parked = k.pollLater(task, -1, lis, R);
        check(call(Call.NET_CLOSE, Value.of(lis)), Status.OK);
        assertArrayEquals(new long[] {lis, ERR}, parked.get());
    }

    @Test
    void taskExit_closesItsSockets_thePeerSeesEndOfStream_andTheListenerIsGone() throws Exception {
        long lis = listener();
        int port = localPort(lis);
        try (Socket js = javaClient(port)) {
            acceptFrom(lis);
            k.onReactor(() -> {
                TestTasks.exit(task, 0);
                return null;
            });
            assertEquals(-1, js.getInputStream().read());
        }
        // The host closes a registered channel at the reactor's next select (which follows the exit at once), so
        // connections may still be accepted for a moment; the bound only guards a listener that never goes.
        long deadline = System.nanoTime() + WAIT_NS;
        while (true) {
            try (Socket late = javaClient(port)) {
                assertTrue(System.nanoTime() < deadline, "the listener still accepts after its task ended: " + late);
                Thread.sleep(10);
            } catch (ConnectException refused) {
                break;
            }
        }
    }

    @Test
    void wrongKindOrUnknownHandle_isBadHandle() {
        long ch = i64(check(call(Call.IPC_CHANNEL_CREATE), Status.OK), 0);
        assertEquals(Status.ERR_BADHANDLE, call(Call.NET_SEND, Value.of(ch), Value.of("x")).status());
        assertEquals(Status.ERR_BADHANDLE, call(Call.NET_CLOSE, Value.of(ch)).status());
        assertEquals(Status.ERR_BADHANDLE, call(Call.NET_ERROR, Value.of(99)).status());
    }

    @Test
    void fullHandleTable_isLimit() {
        Status st;
        int n = 0;
        while ((st = call(Call.NET_SOCKET, Value.of(4), Value.of(1)).status()) == Status.OK) {
            assertTrue(++n <= 16, "TestTasks tables hold 16");
        }
        assertEquals(Status.ERR_LIMIT, st);
    }

    @Test
    void callsOnTheWrongState_areInval_orWouldBlock() {
        long h = socket();
        assertEquals(Status.ERR_INVAL, call(Call.NET_LISTEN, Value.of(h), Value.of(0)).status(), "unbound");
        assertEquals(Status.ERR_INVAL, call(Call.NET_ACCEPT, Value.of(h)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_SEND, Value.of(h), Value.of("x")).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_RECV, Value.of(h), Value.of(1)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_SHUTDOWN, Value.of(h), Value.of(2)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_ADDR, Value.of(h), Value.of(1)).status(), "no peer");
        assertEquals(Status.ERR_INVAL, call(Call.NET_ADDR, Value.of(h), Value.of(2)).status());
        Frame.Reply local = check(call(Call.NET_ADDR, Value.of(h), Value.of(0)), Status.OK);
        assertEquals("0.0.0.0", new String(bytes(local, 0), StandardCharsets.UTF_8));
        assertEquals(0, i64(local, 1));
        assertEquals(Status.ERR_INVAL, call(Call.NET_BIND, Value.of(h), Value.of("::1"), Value.of(0)).status(),
                "IPv6 literal on an IPv4 socket");
        assertEquals(Status.ERR_INVAL, call(Call.NET_BIND, Value.of(h), Value.of(LOOP), Value.of(70000)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_CONNECT, Value.of(h), Value.of(LOOP), Value.of(0)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_CONNECT, Value.of(h), Value.of("bad host!"), Value.of(80))
                .status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_CONNECT, Value.of(h), Value.of(new byte[] {(byte) 0xff}),
                Value.of(80)).status(), "not UTF-8");
        long lis = listener();
        check(call(Call.NET_LISTEN, Value.of(lis), Value.of(5)), Status.OK); // again: updates the backlog
        assertEquals(Status.ERR_INVAL, call(Call.NET_CONNECT, Value.of(lis), Value.of(LOOP), Value.of(80)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_BIND, Value.of(lis), Value.of(LOOP), Value.of(0)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_RECV, Value.of(lis), Value.of(0)).status());
    }

    @Test
    void shutdownRead_makesRecvReturnEndOfStream() throws IOException {
        long lis = listener();
        try (Socket js = javaClient(localPort(lis))) {
            long conn = acceptFrom(lis);
            js.getOutputStream().write(utf8("dropped"));
            assertEquals(R, k.events(task, conn, R, WAIT_NS));
            check(call(Call.NET_SHUTDOWN, Value.of(conn), Value.of(1)), Status.OK);
            assertTrue(atEof(conn));
            assertEquals(Status.ERR_INVAL, call(Call.NET_SHUTDOWN, Value.of(conn), Value.of(4)).status());
            assertEquals(3, send(conn, utf8("out")), "writing still works");
            assertArrayEquals(utf8("out"), js.getInputStream().readNBytes(3));
        }
    }

    // --- names (resolved off the reactor thread by an injected resolver) ----------------------------------

    /** net_connect through a NetCalls whose resolver knows {@code *.svc.test} names (no DNS involved). */
    @Test
    void connect_byName_resolvesOffTheReactor_andChecksTheAddressAfterwards() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 8, InetAddress.getByName(LOOP))) {
            int port = ss.getLocalPort();
            k.close();
            k = new LiveKernel(List.of("*.svc.test:" + port, "db.other.test:" + (port + 1), LOOP + ":" + port),
                    List.of(), 1 << 20);
            task = k.task(7);
            List<String> asked = new CopyOnWriteArrayList<>();
            NetCalls net = new NetCalls(k.ctx, name -> {
                assertTrue(!Thread.currentThread().getName().equals("test-reactor"), "resolved off the reactor");
                asked.add(name);
                if (!name.equals("api.svc.test")) {
                    throw new UnknownHostException(name);
                }
                return List.of(InetAddress.ofLiteral(LOOP));
            });
            // allowed by its name: resolved, then connected
            assertEquals(Status.OK.code(), connectByName(net, "api.svc.test", port));
            // allowed by its name but does not resolve
            assertEquals(Status.ERR_NOTFOUND.code(), connectByName(net, "nx.svc.test", port));
            assertEquals(List.of("api.svc.test", "nx.svc.test"), asked);
        }
    }

    /**
     * A name no rule names is refused before any resolver is asked, even when an IP rule covers the port (the
     * lookup itself would be traffic and a side channel no rule allowed) and even when its port matches a rule
     * for another name.
     */
    @Test
    void connect_nameNoRuleNames_isDenied_withoutAskingTheResolver() throws Exception {
        k.close();
        k = new LiveKernel(List.of(LOOP + ":*", "[::1]:*", "api.svc.test:443", "*.svc.test:8443"), List.of(),
                1 << 20);
        task = k.task(7);
        List<String> asked = new CopyOnWriteArrayList<>();
        NetCalls net = new NetCalls(k.ctx, name -> {
            asked.add(name);
            return List.of(InetAddress.ofLiteral(LOOP));
        });
        for (String[] c : new String[][] {{"python.org", "443"}, {"api.svc.test", "80"}, {"svc.test", "8443"},
                {"evil.api.svc.test.example", "443"}}) {
            Outcome made = k.onReactor(() -> net.socket(task, new Args(0, List.of(Value.of(4), Value.of(1)))));
            long h = ((Value.I64) ((Outcome.Ok) made).results().get(0)).value();
            Outcome o = k.onReactor(() -> net.connect(task, new Args(0, List.of(Value.of(h), Value.of(c[0]),
                    Value.of(Integer.parseInt(c[1]))))));
            assertTrue(o instanceof Outcome.Err e && e.status() == Status.ERR_DENIED, c[0] + ": " + o);
            assertEquals(NetSocket.State.FRESH, k.onReactor(() -> task.handles().get(h, NetSocket.class)
                    .orElseThrow().state()), "nothing started for " + c[0]);
            assertTrue(k.console().contains("net_connect " + c[0] + ":" + c[1] + " denied"), k.console());
        }
        assertEquals(List.of(), asked, "the resolver was never asked");
    }

    @Test
    void direct_connectByName_parksThroughTheLookup_andIsGranted_orAnswersNotFound() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 8, InetAddress.getByName(LOOP))) {
            int port = ss.getLocalPort();
            k.close();
            k = new LiveKernel(List.of("*.svc.test:" + port), List.of(), 1 << 20);
            task = k.task(7);
            NetCalls net = new NetCalls(k.ctx, name -> {
                if (!name.equals("api.svc.test")) {
                    throw new UnknownHostException(name);
                }
                return List.of(InetAddress.ofLiteral(LOOP));
            });
            for (String name : List.of("api.svc.test", "nx.svc.test")) {
                Outcome made = k.onReactor(() -> net.socket(task, new Args(0, List.of(Value.of(4),
                        Value.of(1 | DIRECT)))));
                long h = ((Value.I64) ((Outcome.Ok) made).results().get(0)).value();
                java.util.function.Supplier<Frame.Reply> reply = k.nextLate(task);
                Outcome o = k.onReactor(() -> net.connect(task, new Args(41, List.of(Value.of(h), Value.of(name),
                        Value.of(port)))));
                assertTrue(o instanceof Outcome.Later, name + ": " + o);
                Frame.Reply r = reply.get();
                assertEquals(41, r.seq());
                if (name.startsWith("api")) {
                    assertTrue(r.granted() && r.status() == Status.OK, r.toString());
                    int fd = k.onReactor(task::takeGrant);
                    assertTrue(fd >= 0 && fdTarget(fd).startsWith("socket:"));
                    io.ukernel.kernel.io.RawFd.close(fd);
                } else {
                    assertEquals(Status.ERR_NOTFOUND, r.status());
                    assertEquals(-1, k.onReactor(task::takeGrant));
                }
            }
        }
    }

    /** Connects a fresh socket by name straight through {@code net}; returns net_error's outcome. */
    long connectByName(NetCalls net, String name, int port) {
        // The socket is made by `net` too: a socket resolves with the resolver of the NetCalls that made it.
        Outcome made = k.onReactor(() -> net.socket(task, new Args(0, List.of(Value.of(4), Value.of(1)))));
        long h = ((Value.I64) ((Outcome.Ok) made).results().get(0)).value();
        Outcome o = k.onReactor(() -> net.connect(task, new Args(0, List.of(Value.of(h), Value.of(name),
                Value.of(port)))));
        assertEquals(new Outcome.Err(Status.ERR_INPROGRESS, "resolving " + name), o);
        assertEquals(W, k.events(task, h, W, WAIT_NS) & W);
        return i64(check(call(Call.NET_ERROR, Value.of(h)), Status.OK), 0);
    }

    NetSocket.State state(long h) {
        return k.onReactor(() -> task.handles().get(h, NetSocket.class).orElseThrow().state());
    }
}
