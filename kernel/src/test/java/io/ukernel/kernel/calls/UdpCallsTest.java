package io.ukernel.kernel.calls;

import static io.ukernel.kernel.net.LiveKernel.bytes;
import static io.ukernel.kernel.net.LiveKernel.check;
import static io.ukernel.kernel.net.LiveKernel.i64;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ukernel.abi.Call;
import io.ukernel.abi.Event;
import io.ukernel.abi.Frame;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.net.LiveKernel;
import io.ukernel.kernel.net.UdpSocket;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * UDP (ABI 1.2): {@code net_socket(NET_SOCK_DGRAM)}, {@code net_bind}, {@code net_connect}, {@code net_sendto} and
 * {@code net_recvfrom} through the real dispatcher on a running reactor, against host UDP sockets on 127.0.0.1.
 * The allow-lists are the manifest's {@code udp:host:port} patterns; TCP patterns admit no datagram.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS) // bounds a hang only: every wait ends on its event
class UdpCallsTest {
    static final long R = Event.READABLE.bit();
    static final long W = Event.WRITABLE.bit();
    static final long WAIT_NS = TimeUnit.MILLISECONDS.toNanos(LiveKernel.WAIT_MS);
    static final String LOOP = "127.0.0.1";

    /** A host UDP socket the test talks to; its port is allowed by the UDP connect rule below, others are not. */
    final DatagramSocket host = open();
    final int hostPort = host.getLocalPort();
    LiveKernel k = new LiveKernel(List.of("udp:" + LOOP + ":" + hostPort, LOOP + ":*"),
            List.of("udp:" + LOOP + ":*", "0.0.0.0:*"), 1 << 20);
    Task task = k.task(1);

    static DatagramSocket open() {
        try {
            DatagramSocket s = new DatagramSocket(new InetSocketAddress(LOOP, 0));
            s.setSoTimeout((int) LiveKernel.WAIT_MS);
            return s;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @AfterEach
    void stop() {
        k.close();
        host.close();
    }

    Frame.Reply call(Call c, Value... args) {
        return k.call(task, c, args);
    }

    long udp() {
        return i64(check(call(Call.NET_SOCKET, Value.of(4), Value.of(2)), Status.OK), 0);
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    DatagramPacket receiveOnHost() throws IOException {
        DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
        host.receive(p);
        return p;
    }

    /** Waits until the socket is READABLE, then takes one datagram. */
    Frame.Reply recvfrom(long h, int max) {
        assertEquals(R, k.events(task, h, R, WAIT_NS) & R);
        return check(call(Call.NET_RECVFROM, Value.of(h), Value.of(max)), Status.OK);
    }

    @Test
    void sendto_reachesTheHost_andTheReplyComesBackWithItsSender() throws IOException {
        long h = udp();
        assertEquals(W, k.events(task, h, W, WAIT_NS) & W, "an unbound UDP socket is WRITABLE");
        assertEquals(4, i64(check(call(Call.NET_SENDTO, Value.of(h), Value.of("ping"), Value.of(LOOP),
                Value.of(hostPort)), Status.OK), 0));
        DatagramPacket got = receiveOnHost();
        assertEquals("ping", new String(got.getData(), 0, got.getLength(), StandardCharsets.UTF_8));
        int local = (int) i64(check(call(Call.NET_ADDR, Value.of(h), Value.of(0)), Status.OK), 1);
        assertEquals(local, got.getPort(), "the first send bound an ephemeral port");

        host.send(new DatagramPacket(utf8("pong"), 4, got.getSocketAddress()));
        Frame.Reply r = recvfrom(h, 100);
        assertArrayEquals(utf8("pong"), bytes(r, 0));
        assertEquals(LOOP, new String(bytes(r, 1), StandardCharsets.UTF_8));
        assertEquals(hostPort, i64(r, 2));
        assertEquals(Status.ERR_WOULDBLOCK, call(Call.NET_RECVFROM, Value.of(h), Value.of(100)).status());
        check(call(Call.NET_CLOSE, Value.of(h)), Status.OK);
        assertEquals(Status.ERR_BADHANDLE, call(Call.NET_RECVFROM, Value.of(h), Value.of(100)).status());
    }

    @Test
    void sendto_outsideTheUdpRules_isDenied_namesTheRuleToAdd_andNothingIsSent() throws IOException {
        try (DatagramSocket other = open()) {
            long h = udp();
            Frame.Reply r = call(Call.NET_SENDTO, Value.of(h), Value.of("x"), Value.of(LOOP),
                    Value.of(other.getLocalPort()));
            assertEquals(Status.ERR_DENIED, r.status());
            String rule = "udp:" + LOOP + ":" + other.getLocalPort();
            assertTrue(k.console().contains("allow \"" + rule + "\" in net.connect of the app's policy"),
                    k.console());
            // The TCP rule "127.0.0.1:*" admits no datagram: the allowed port proves the socket works, and the
            // denied one received nothing (a datagram sent after the denied one arrives; the denied never does).
            check(call(Call.NET_SENDTO, Value.of(h), Value.of("y"), Value.of(LOOP), Value.of(hostPort)), Status.OK);
            assertEquals("y", new String(receiveOnHost().getData(), 0, 1, StandardCharsets.UTF_8));
            other.setSoTimeout(200);
            try {
                other.receive(new DatagramPacket(new byte[16], 16));
                throw new AssertionError("a denied datagram arrived");
            } catch (SocketTimeoutException expected) {
                // nothing arrived
            }
        }
    }

    @Test
    void sendto_validatesItsArguments() {
        long h = udp();
        assertEquals(Status.ERR_INVAL, call(Call.NET_SENDTO, Value.of(h), Value.of("x"), Value.of("example.com"),
                Value.of(hostPort)).status(), "no names: the kernel resolves nothing per datagram");
        assertEquals(Status.ERR_INVAL, call(Call.NET_SENDTO, Value.of(h), Value.of("x"), Value.of("::1"),
                Value.of(hostPort)).status(), "the other family");
        assertEquals(Status.ERR_INVAL, call(Call.NET_SENDTO, Value.of(h), Value.of("x"), Value.of(LOOP),
                Value.of(0)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_SENDTO, Value.of(h), Value.of("x"), Value.of(""),
                Value.of(0)).status(), "no default destination before a connect");
        assertEquals(Status.ERR_INVAL, call(Call.NET_RECVFROM, Value.of(h), Value.of(0)).status());
        long tcp = i64(check(call(Call.NET_SOCKET, Value.of(4), Value.of(1)), Status.OK), 0);
        assertEquals(Status.ERR_INVAL, call(Call.NET_SENDTO, Value.of(tcp), Value.of("x"), Value.of(LOOP),
                Value.of(hostPort)).status(), "a TCP socket");
        assertEquals(Status.ERR_INVAL, call(Call.NET_RECVFROM, Value.of(tcp), Value.of(10)).status());
        assertEquals(Status.ERR_INVAL, call(Call.NET_SEND, Value.of(h), Value.of("x")).status(), "UDP: not a stream");
        assertEquals(Status.ERR_INVAL, call(Call.NET_LISTEN, Value.of(h), Value.of(0)).status());
    }

    @Test
    void bind_checksTheUdpBindRules_andABoundSocketHearsAnySender() throws IOException {
        long denied = udp();
        assertEquals(Status.ERR_DENIED, call(Call.NET_BIND, Value.of(denied), Value.of("0.0.0.0"), Value.of(0))
                .status(), "the TCP rule 0.0.0.0:* does not admit a UDP bind");
        assertTrue(k.console().contains("allow \"udp:0.0.0.0:0\" in net.bind"), k.console());
        long h = udp();
        check(call(Call.NET_BIND, Value.of(h), Value.of(LOOP), Value.of(0)), Status.OK);
        int port = (int) i64(check(call(Call.NET_ADDR, Value.of(h), Value.of(0)), Status.OK), 1);
        try (DatagramSocket stranger = open()) { // not in net.connect: a server hears it all the same
            stranger.send(new DatagramPacket(utf8("hi"), 2, new InetSocketAddress(LOOP, port)));
            Frame.Reply r = recvfrom(h, 1);
            assertArrayEquals(utf8("h"), bytes(r, 0), "cut to max; the rest of the datagram is dropped");
            assertEquals(stranger.getLocalPort(), i64(r, 2));
        }
        assertEquals(Status.ERR_INVAL, call(Call.NET_BIND, Value.of(h), Value.of(LOOP), Value.of(0)).status());
    }

    @Test
    void anUnboundSocket_dropsDatagramsFromSendersItMayNotTalkTo() throws IOException {
        long h = udp();
        check(call(Call.NET_SENDTO, Value.of(h), Value.of("a"), Value.of(LOOP), Value.of(hostPort)), Status.OK);
        InetSocketAddress me = (InetSocketAddress) receiveOnHost().getSocketAddress();
        try (DatagramSocket stranger = open()) {
            stranger.send(new DatagramPacket(utf8("spoof"), 5, me));
        }
        host.send(new DatagramPacket(utf8("real"), 4, me)); // sent after: when it is queued, the other was seen
        Frame.Reply r = recvfrom(h, 100);
        assertArrayEquals(utf8("real"), bytes(r, 0));
        assertEquals(Status.ERR_WOULDBLOCK, call(Call.NET_RECVFROM, Value.of(h), Value.of(100)).status());
    }

    @Test
    void connect_fixesTheDefaultDestination_andIsCheckedOnce() throws IOException {
        long h = udp();
        try (DatagramSocket other = open()) {
            assertEquals(Status.ERR_DENIED, call(Call.NET_CONNECT, Value.of(h), Value.of(LOOP),
                    Value.of(other.getLocalPort())).status());
        }
        check(call(Call.NET_CONNECT, Value.of(h), Value.of("localhost"), Value.of(hostPort)), Status.OK);
        assertEquals(hostPort, i64(check(call(Call.NET_ADDR, Value.of(h), Value.of(1)), Status.OK), 1));
        check(call(Call.NET_SENDTO, Value.of(h), Value.of("c"), Value.of(""), Value.of(0)), Status.OK);
        DatagramPacket got = receiveOnHost();
        assertEquals('c', got.getData()[0]);
        assertEquals(Status.ERR_INVAL, call(Call.NET_SENDTO, Value.of(h), Value.of("c"), Value.of(LOOP),
                Value.of(hostPort + 1 > 65535 ? 1 : hostPort + 1)).status(), "connected: another address is refused");
        host.send(new DatagramPacket(utf8("back"), 4, got.getSocketAddress()));
        assertArrayEquals(utf8("back"), bytes(recvfrom(h, 100), 0));
    }

    @Test
    void theQueueIsBounded_inDatagrams_andTheRestWaitsOnTheHost() throws Exception {
        long h = udp();
        check(call(Call.NET_BIND, Value.of(h), Value.of(LOOP), Value.of(0)), Status.OK);
        int port = (int) i64(check(call(Call.NET_ADDR, Value.of(h), Value.of(0)), Status.OK), 1);
        InetSocketAddress to = new InetSocketAddress(InetAddress.getByName(LOOP), port);
        // In batches, each taken in by the kernel before the next (the host's own buffer is never what holds them).
        int sent = 0;
        while (sent < UdpSocket.MAX_QUEUED) {
            for (int i = 0; i < 32; i++, sent++) {
                host.send(new DatagramPacket(new byte[] {(byte) sent}, 1, to));
            }
            awaitQueued(h, sent);
        }
        int extra = 8; // beyond the bound: they wait in the host's buffer
        for (int i = 0; i < extra; i++, sent++) {
            host.send(new DatagramPacket(new byte[] {(byte) sent}, 1, to));
        }
        for (int taken = 0; taken < sent; taken++) {
            assertEquals(R, k.events(task, h, R, WAIT_NS) & R, "datagram " + taken + " arrives");
            int queued = k.onReactor(() -> udpSocket(h).queued());
            assertTrue(queued <= UdpSocket.MAX_QUEUED, "queued " + queued);
            Frame.Reply r = check(call(Call.NET_RECVFROM, Value.of(h), Value.of(10)), Status.OK);
            assertEquals((byte) taken, bytes(r, 0)[0], "in order, none lost");
        }
        assertEquals(Status.ERR_WOULDBLOCK, call(Call.NET_RECVFROM, Value.of(h), Value.of(10)).status());
        assertEquals(0, k.onReactor(() -> task.handles().account().netBytes()), "the queue's charge is released");
    }

    private UdpSocket udpSocket(long h) {
        return task.handles().get(h, UdpSocket.class).orElseThrow();
    }

    /** Waits (bounded) until the kernel queued {@code n} datagrams on {@code h}. */
    private void awaitQueued(long h, int n) throws InterruptedException {
        long end = System.nanoTime() + WAIT_NS;
        while (k.onReactor(() -> udpSocket(h).queued()) < n) {
            assertTrue(System.nanoTime() < end, "the kernel did not take " + n + " datagrams");
            Thread.sleep(1);
        }
    }
}
