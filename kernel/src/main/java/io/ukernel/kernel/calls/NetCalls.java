package io.ukernel.kernel.calls;

import io.ukernel.abi.Abi;
import io.ukernel.abi.Frame;
import io.ukernel.abi.NetConst;
import io.ukernel.abi.Status;
import io.ukernel.abi.Value;
import io.ukernel.kernel.KernelContext;
import io.ukernel.kernel.Task;
import io.ukernel.kernel.console.Console;
import io.ukernel.kernel.console.Level;
import io.ukernel.kernel.io.RawFd;
import io.ukernel.kernel.net.AddressRules;
import io.ukernel.kernel.net.Hosts;
import io.ukernel.kernel.net.NetSocket;
import io.ukernel.kernel.net.NetStack;
import io.ukernel.kernel.net.Resolver;
import io.ukernel.kernel.net.UdpSocket;
import io.ukernel.kernel.policy.PolicyHints;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * {@code net_socket} … {@code net_error}: TCP over {@link NetSocket}s. Authority is checked where it is exercised
 * (WASI): {@code net_bind} against {@code net.bind}, {@code net_connect} against {@code net.connect}; a refusal
 * is {@code ERR_DENIED} and a console line naming the rule to add.
 *
 * <p>ABI 1.1 direct sockets ({@code NET_DIRECT} in {@code net_socket}'s type): {@code net_connect} parks until
 * the host connected, then its reply carries the host descriptor; {@code net_accept} on a direct listener (which
 * stays in the kernel: it accepts, counts and audits every connection) grants each connection the same way. The
 * kernel keeps its own reference in the handle table (limits, {@code net_addr}, revocation by closing it) and
 * never reads or writes the bytes of a granted socket ({@code ERR_BUSY}).
 */
final class NetCalls {
    /** Most bytes one reply can carry in a single BYTES value (frame minus reply header and value header). */
    static final int MAX_RECV = Abi.MAX_FRAME_BYTES - 8 - 5;

    private final NetStack net;
    private final AddressRules bindRules;
    private final AddressRules connectRules;
    private final AddressRules udpBindRules;
    private final AddressRules udpConnectRules;
    private final Console console;
    private final PolicyHints hints;

    NetCalls(KernelContext ctx) {
        this(ctx, Resolver.SYSTEM);
    }

    NetCalls(KernelContext ctx, Resolver resolver) {
        this.net = new NetStack(ctx.reactor(), ctx.policy().limits().socketBytes(), resolver);
        this.bindRules = AddressRules.parse(ctx.policy().net().bind());
        this.connectRules = AddressRules.parse(ctx.policy().net().connect());
        this.udpBindRules = AddressRules.parse(ctx.policy().net().bind(), true);
        this.udpConnectRules = AddressRules.parse(ctx.policy().net().connect(), true);
        this.console = ctx.console();
        this.hints = ctx.policy().hints();
    }

    Outcome socket(Task task, Args args) {
        long family = args.i64(0);
        long type = args.i64(1);
        boolean direct = (type & NetConst.DIRECT.value()) != 0;
        type &= ~NetConst.DIRECT.value();
        boolean inet = family == NetConst.AF_INET.value() || family == NetConst.AF_INET6.value();
        if (!inet || type != NetConst.SOCK_STREAM.value() && type != NetConst.SOCK_DGRAM.value()) {
            return Outcome.err(Status.ERR_INVAL, "family " + family + " / type " + type + " is not AF_INET(6)"
                    + " with SOCK_STREAM or SOCK_DGRAM");
        }
        boolean udp = type == NetConst.SOCK_DGRAM.value();
        if (udp && direct) {
            return Outcome.err(Status.ERR_INVAL, "NET_DIRECT is for TCP: a UDP socket stays in the kernel, which checks"
                    + " every datagram's destination (net_sendto)");
        }
        if (direct && !RawFd.available()) {
            console.audit(task.name(), task.id(), Level.WARN, "net.direct", "net_socket: NET_DIRECT refused: "
                    + RawFd.MISSING);
            return Outcome.audited(Status.ERR_UNSUPPORTED, RawFd.MISSING);
        }
        if (task.handles().room() <= 0) {
            return Outcome.err(Status.ERR_LIMIT, "handle table full: " + IpcCalls.usage(task.handles(), hints));
        }
        try {
            boolean ipv6 = family == NetConst.AF_INET6.value();
            if (udp) {
                UdpSocket u = UdpSocket.open(net, ipv6, task.handles().account());
                return Outcome.ok(Value.of(task.handles().install(u).orElseThrow()));
            }
            NetSocket s = NetSocket.open(net, ipv6, task.handles().account(), direct);
            return Outcome.ok(Value.of(task.handles().install(s).orElseThrow()));
        } catch (IOException e) {
            return Outcome.err(Status.ERR_IO, "the host refused a socket: " + e.getMessage());
        }
    }

    Outcome bind(Task task, Args args) {
        long h = args.i64(0);
        String host = text(args.bytes(1));
        long port = args.i64(2);
        Optional<UdpSocket> u = udpOf(task, h);
        if (u.isPresent()) {
            return bindUdp(task, h, u.get(), host, port);
        }
        Optional<NetSocket> s = socketOf(task, h);
        if (s.isEmpty()) {
            return notASocket(h);
        }
        if (s.get().state() != NetSocket.State.FRESH) {
            return Outcome.err(Status.ERR_INVAL, "socket " + h + " is already " + s.get().state());
        }
        boolean ipv6 = s.get().ipv6();
        boolean local = "localhost".equalsIgnoreCase(host);
        InetAddress ip = host == null ? null : host.isEmpty() ? Hosts.wildcard(ipv6)
                : local ? Hosts.loopback(ipv6) : Hosts.literal(host);
        if (ip == null || !Hosts.ofFamily(ip, ipv6) || port < 0 || port > 65535) {
            return Outcome.err(Status.ERR_INVAL, "cannot bind to \"" + host + "\" port " + port);
        }
        if (!bindRules.allows(local ? "localhost" : null, ip, (int) port)) {
            return denied(task, "net_bind", "bind", local ? "localhost:" + port : Hosts.hostPort(ip, (int) port));
        }
        return answer(s.get().bind(new InetSocketAddress(ip, (int) port)), "bind " + host + ":" + port);
    }

    Outcome listen(Task task, Args args) {
        long h = args.i64(0);
        long backlog = args.i64(1);
        Optional<NetSocket> s = socketOf(task, h);
        if (s.isEmpty()) {
            return notStream(task, h, "net_listen");
        }
        NetSocket.State st = s.get().state();
        if (st != NetSocket.State.BOUND && st != NetSocket.State.LISTENING) {
            return Outcome.err(Status.ERR_INVAL, "socket " + h + " is " + st + "; listen needs a bound socket");
        }
        return answer(s.get().listen(Math.clamp(backlog, 0, 65535)), "listen");
    }

    Outcome accept(Task task, Args args) {
        long h = args.i64(0);
        Optional<NetSocket> s = socketOf(task, h);
        if (s.isEmpty()) {
            return notStream(task, h, "net_accept");
        }
        if (s.get().state() != NetSocket.State.LISTENING) {
            return Outcome.err(Status.ERR_INVAL, "socket " + h + " is not listening");
        }
        if (!s.get().hasPendingConnection()) {
            return Outcome.err(Status.ERR_WOULDBLOCK, "no connection pending");
        }
        // A connection the caller's own listener queued already counts against its quota: taking it frees that.
        long room = task.handles().room() + (s.get().chargedTo(task.handles().account()) ? 1 : 0);
        if (room <= 0) {
            return Outcome.err(Status.ERR_LIMIT, "handle table full; the connection stays pending: "
                    + IpcCalls.usage(task.handles(), hints));
        }
        try {
            NetSocket conn = s.get().accept(task.handles().account());
            if (conn == null) {
                return Outcome.err(Status.ERR_WOULDBLOCK, "no connection pending");
            }
            InetSocketAddress peer = conn.peerAddress();
            long ch = task.handles().install(conn).orElseThrow();
            Value[] results = {Value.of(ch), Value.of(Hosts.format(peer.getAddress())), Value.of(peer.getPort())};
            if (!conn.granted()) {
                return Outcome.ok(results);
            }
            if (!task.stageGrant(RawFd.of(conn.grantedChannel()))) {
                task.handles().close(ch);
                return Outcome.err(Status.ERR_LIMIT, "the kernel is out of descriptors: the connection was closed");
            }
            grantLine(task, "net_accept", ch, conn);
            return Outcome.granted(results);
        } catch (IOException e) {
            return Outcome.err(Status.ERR_IO, "accept: " + e.getMessage());
        }
    }

    /** Literals and {@code localhost} are decided here; other names only if a rule names them, then resolved. */
    Outcome connect(Task task, Args args) {
        long h = args.i64(0);
        String host = text(args.bytes(1));
        long port = args.i64(2);
        Optional<UdpSocket> u = udpOf(task, h);
        if (u.isPresent()) {
            return connectUdp(task, h, u.get(), host, port);
        }
        Optional<NetSocket> s = socketOf(task, h);
        if (s.isEmpty()) {
            return notASocket(h);
        }
        NetSocket.State st = s.get().state();
        if (st != NetSocket.State.FRESH && st != NetSocket.State.BOUND) {
            return Outcome.err(Status.ERR_INVAL, "socket " + h + " is " + st + "; cannot connect it");
        }
        boolean ipv6 = s.get().ipv6();
        boolean local = "localhost".equalsIgnoreCase(host);
        InetAddress ip = host == null ? null : local ? Hosts.loopback(ipv6) : Hosts.literal(host);
        String name = local ? "localhost" : host == null || ip != null ? null : Hosts.name(host);
        if (ip == null && name == null || ip != null && !Hosts.ofFamily(ip, ipv6) || port < 1 || port > 65535) {
            return Outcome.err(Status.ERR_INVAL, "cannot connect to \"" + host + "\" port " + port);
        }
        int p = (int) port;
        String target = name != null ? name + ":" + p : Hosts.hostPort(ip, p);
        boolean direct = s.get().direct();
        if (direct && task.parkedCount() >= Abi.MAX_PARKED_CALLS) {
            return Outcome.err(Status.ERR_LIMIT, "this task already has " + task.parkedCount() + " calls waiting"
                    + " (at most MAX_PARKED_CALLS=" + Abi.MAX_PARKED_CALLS + "); a direct net_connect waits too");
        }
        if (ip != null) {
            if (!connectRules.allows(name, ip, p)) {
                return denied(task, "net_connect", "connect", target);
            }
            Status started = s.get().connect(new InetSocketAddress(ip, p));
            if (direct && started == Status.OK) {
                return grantConnected(task, h, s.get());
            }
            if (direct && started == Status.ERR_INPROGRESS) {
                return parkConnect(task, args.seq(), h, s.get());
            }
            return answer(started, "connect " + target);
        }
        // No lookup without authority: a name is resolved only when a rule that names it (or a wildcard covering
        // it) allows the call. Asking the host's resolver about any other name would be traffic no rule allowed,
        // and a side channel (a lookup a name server can see, and time). An IP rule never admits a name.
        if (!connectRules.allowsName(name, p)) {
            return denied(task, "net_connect", "connect", target);
        }
        // The address the name resolved to is checked again once known (the rules are the same; the hook is where
        // an address-level rule applies to names too).
        s.get().connect(name, p, a -> connectRules.allows(name, a, p),
                a -> deniedLine(task, "net_connect", target + " (" + Hosts.format(a) + ")", "connect", target));
        return direct ? parkConnect(task, args.seq(), h, s.get())
                : Outcome.err(Status.ERR_INPROGRESS, "resolving " + name);
    }

    /** A direct socket that connected at once: the reply carries its descriptor. */
    private Outcome grantConnected(Task task, long h, NetSocket s) {
        if (!task.stageGrant(RawFd.of(s.grantedChannel()))) {
            return Outcome.err(Status.ERR_LIMIT, "the kernel is out of descriptors");
        }
        grantLine(task, "net_connect", h, s);
        return Outcome.granted();
    }

    /** Answers a direct connect once the host is done: granted when connected, else the failure's status. */
    private Outcome parkConnect(Task task, int seq, long h, NetSocket s) {
        Runnable cancel = s::cancelWhenConnected;
        s.whenConnected(st -> {
            task.unpark(cancel);
            if (st != Status.OK) {
                s.takeError(); // told in the reply, not left pending
                task.replyLater(Frame.Reply.error(seq, st));
            } else if (!task.stageGrant(RawFd.of(s.grantedChannel()))) {
                task.replyLater(Frame.Reply.error(seq, Status.ERR_LIMIT));
            } else {
                grantLine(task, "net_connect", h, s);
                task.replyLater(Frame.Reply.granted(seq));
            }
        });
        task.park(cancel);
        return new Outcome.Later();
    }

    /**
     * The audit line of a grant: {@code INFO} for a connect (authority exercised towards a peer), {@code DEBUG} for
     * an accept (a server's routine; at INFO a busy listener would spend the task's audit budget and crowd out its
     * denials, while the DEBUG budget is kept apart).
     */
    private void grantLine(Task task, String call, long h, NetSocket s) {
        Level level = call.equals("net_accept") ? Level.DEBUG : Level.INFO;
        console.audit(task.name(), task.id(), level, "net.grant", call + ": socket " + h + " "
                + Hosts.hostPort(s.localAddress().getAddress(), s.localAddress().getPort()) + " <-> "
                + Hosts.hostPort(s.peerAddress().getAddress(), s.peerAddress().getPort())
                + " granted: the worker holds its descriptor");
    }

    Outcome send(Task task, Args args) {
        long h = args.i64(0);
        byte[] data = args.bytes(1);
        Optional<NetSocket> s = socketOf(task, h);
        if (s.isEmpty()) {
            return notStream(task, h, "net_send");
        }
        if (s.get().granted()) {
            return busy(h, "net_send");
        }
        Outcome notReady = notStreaming(s.get(), h);
        if (notReady != null) {
            return notReady;
        }
        if (s.get().writeClosed()) {
            return Outcome.err(Status.ERR_CLOSED, "socket " + h + " is shut down for writing or reset");
        }
        if (data.length == 0) {
            return Outcome.ok(Value.of(0));
        }
        int n = s.get().send(data);
        return n > 0 ? Outcome.ok(Value.of(n)) : Outcome.err(Status.ERR_WOULDBLOCK, "send buffer full");
    }

    Outcome recv(Task task, Args args) {
        long h = args.i64(0);
        long max = args.i64(1);
        Optional<NetSocket> s = socketOf(task, h);
        if (s.isEmpty()) {
            return notStream(task, h, "net_recv");
        }
        if (max <= 0) {
            return Outcome.err(Status.ERR_INVAL, "max " + max + " must be positive");
        }
        if (s.get().granted()) {
            return busy(h, "net_recv");
        }
        Outcome notReady = notStreaming(s.get(), h);
        if (notReady != null) {
            return notReady;
        }
        byte[] data = s.get().recv((int) Math.min(max, MAX_RECV));
        if (data != null) {
            return Outcome.ok(Value.of(data));
        }
        return s.get().isReset() ? Outcome.err(Status.ERR_CLOSED, "socket " + h + " was reset")
                : Outcome.err(Status.ERR_WOULDBLOCK, "nothing received yet");
    }

    Outcome shutdown(Task task, Args args) {
        long h = args.i64(0);
        long how = args.i64(1);
        Optional<NetSocket> s = socketOf(task, h);
        if (s.isEmpty()) {
            return notStream(task, h, "net_shutdown");
        }
        if (how < NetConst.SHUT_RD.value() || how > NetConst.SHUT_RDWR.value()) {
            return Outcome.err(Status.ERR_INVAL, "how " + how + " is not SHUT_RD, SHUT_WR or SHUT_RDWR");
        }
        if (s.get().state() != NetSocket.State.CONNECTED) {
            return Outcome.err(Status.ERR_INVAL, "socket " + h + " is not connected");
        }
        s.get().shutdown((how & NetConst.SHUT_RD.value()) != 0, (how & NetConst.SHUT_WR.value()) != 0);
        return Outcome.ok();
    }

    Outcome close(Task task, Args args) {
        long h = args.i64(0);
        if (udpOf(task, h).isPresent()) {
            task.handles().close(h);
            return Outcome.ok();
        }
        Optional<NetSocket> s = socketOf(task, h);
        if (s.isEmpty()) {
            return notASocket(h);
        }
        if (s.get().granted()) {
            revokedLine(console, task, h, s.get(), "closed");
        }
        task.handles().close(h);
        return Outcome.ok();
    }

    /**
     * The audit line of a granted socket the kernel shuts down because its handle was closed: {@code DEBUG}, one per
     * connection (see {@link #grantLine}).
     */
    static void revokedLine(Console console, Task task, long h, NetSocket s, String why) {
        InetSocketAddress peer = s.peerAddress();
        console.audit(task.name(), task.id(), Level.DEBUG, "net.revoke", "socket " + h + " to "
                + (peer == null ? "?" : Hosts.hostPort(peer.getAddress(), peer.getPort())) + " " + why
                + ": the kernel shut down the granted descriptor");
    }

    private static Outcome busy(long h, String call) {
        return Outcome.err(Status.ERR_BUSY, call + ": socket " + h + " is granted: the worker holds its descriptor"
                + " and moves the bytes itself");
    }

    Outcome addr(Task task, Args args) {
        long h = args.i64(0);
        long which = args.i64(1);
        Optional<UdpSocket> u = udpOf(task, h);
        Optional<NetSocket> s = socketOf(task, h);
        if (s.isEmpty() && u.isEmpty()) {
            return notASocket(h);
        }
        InetSocketAddress a = which == NetConst.ADDR_LOCAL.value()
                ? u.map(UdpSocket::localAddress).orElseGet(() -> s.get().localAddress())
                : which == NetConst.ADDR_PEER.value()
                ? u.map(UdpSocket::peerAddress).orElseGet(() -> s.map(NetSocket::peerAddress).orElse(null)) : null;
        if (a == null) {
            return Outcome.err(Status.ERR_INVAL, "which " + which + " on a "
                    + (u.isPresent() ? "UDP socket that is not connected" : s.get().state() + " socket"));
        }
        return Outcome.ok(Value.of(Hosts.format(a.getAddress())), Value.of(a.getPort()));
    }

    Outcome error(Task task, Args args) {
        long h = args.i64(0);
        Optional<UdpSocket> u = udpOf(task, h);
        if (u.isPresent()) {
            return Outcome.ok(Value.of(u.get().takeError().code()));
        }
        Optional<NetSocket> s = socketOf(task, h);
        if (s.isEmpty()) {
            return notASocket(h);
        }
        return Outcome.ok(Value.of(s.get().takeError().code()));
    }

    /** Why send/recv cannot touch the stream yet (or ever), or null when the socket is connected. */
    private static Outcome notStreaming(NetSocket s, long h) {
        return switch (s.state()) {
            case CONNECTED -> null;
            case CONNECTING -> Outcome.err(Status.ERR_WOULDBLOCK, "socket " + h + " is still connecting");
            case FAILED -> Outcome.err(Status.ERR_CLOSED, "socket " + h + " failed to connect");
            case FRESH, BOUND, LISTENING -> Outcome.err(Status.ERR_INVAL, "socket " + h + " was never connected");
        };
    }

    private static Optional<NetSocket> socketOf(Task task, long h) {
        return task.handles().get(h, NetSocket.class);
    }

    private static Optional<UdpSocket> udpOf(Task task, long h) {
        return task.handles().get(h, UdpSocket.class);
    }

    /** A TCP-only call on a handle that is not a TCP socket: ERR_INVAL for a UDP socket, else ERR_BADHANDLE. */
    private static Outcome notStream(Task task, long h, String call) {
        if (udpOf(task, h).isPresent()) {
            return Outcome.err(Status.ERR_INVAL, call + ": socket " + h + " is a UDP socket (net_sendto and"
                    + " net_recvfrom move its datagrams)");
        }
        return notASocket(h);
    }

    // --- UDP (ABI 1.2) ---------------------------------------------------------------------------------------

    /**
     * The destination of a datagram or a UDP connect: an IP literal of the socket's family or {@code localhost};
     * never a name (resolving one per datagram would be a lookup no rule asked for; the worker resolves nothing).
     */
    private static InetAddress udpTarget(String host, boolean ipv6) {
        if (host == null) {
            return null;
        }
        InetAddress ip = "localhost".equalsIgnoreCase(host) ? Hosts.loopback(ipv6) : Hosts.literal(host);
        return ip != null && Hosts.ofFamily(ip, ipv6) ? ip : null;
    }

    private Outcome bindUdp(Task task, long h, UdpSocket u, String host, long port) {
        if (u.bound()) {
            return Outcome.err(Status.ERR_INVAL, "UDP socket " + h + " is already bound");
        }
        boolean local = "localhost".equalsIgnoreCase(host);
        InetAddress ip = host == null ? null : host.isEmpty() ? Hosts.wildcard(u.ipv6())
                : local ? Hosts.loopback(u.ipv6()) : Hosts.literal(host);
        if (ip == null || !Hosts.ofFamily(ip, u.ipv6()) || port < 0 || port > 65535) {
            return Outcome.err(Status.ERR_INVAL, "cannot bind to \"" + host + "\" port " + port);
        }
        if (!udpBindRules.allows(local ? "localhost" : null, ip, (int) port)) {
            return deniedUdp(task, "net_bind", "bind", local ? "localhost:" + port : Hosts.hostPort(ip, (int) port));
        }
        return answer(u.bind(new InetSocketAddress(ip, (int) port)), "bind udp " + host + ":" + port);
    }

    private Outcome connectUdp(Task task, long h, UdpSocket u, String host, long port) {
        if (u.connected()) {
            return Outcome.err(Status.ERR_INVAL, "UDP socket " + h + " is already connected");
        }
        InetAddress ip = udpTarget(host, u.ipv6());
        if (ip == null || port < 1 || port > 65535) {
            return Outcome.err(Status.ERR_INVAL, "cannot connect UDP socket " + h + " to \"" + host + "\" port " + port
                    + ": a UDP peer is an IP literal of the socket's family or localhost");
        }
        boolean local = "localhost".equalsIgnoreCase(host);
        String target = local ? "localhost:" + port : Hosts.hostPort(ip, (int) port);
        if (!udpConnectRules.allows(local ? "localhost" : null, ip, (int) port)) {
            return deniedUdp(task, "net_connect", "connect", target);
        }
        return answer(u.connect(new InetSocketAddress(ip, (int) port)), "connect udp " + target);
    }

    /**
     * {@code net_sendto}: one datagram to {@code host:port}, checked against the UDP rules of {@code net.connect}
     * for every datagram; {@code ""} and port 0 send to the connected peer.
     */
    Outcome sendto(Task task, Args args) {
        long h = args.i64(0);
        byte[] data = args.bytes(1);
        String host = text(args.bytes(2));
        long port = args.i64(3);
        Optional<UdpSocket> u = udpOf(task, h);
        if (u.isEmpty()) {
            return socketOf(task, h).isPresent()
                    ? Outcome.err(Status.ERR_INVAL, "net_sendto: socket " + h + " is TCP; net_sendto is for UDP sockets")
                    : notASocket(h);
        }
        InetSocketAddress to = null;
        if ("".equals(host) && port == 0) {
            if (!u.get().connected()) {
                return Outcome.err(Status.ERR_INVAL, "net_sendto: UDP socket " + h + " is not connected: name the"
                        + " destination");
            }
        } else {
            InetAddress ip = udpTarget(host, u.get().ipv6());
            if (ip == null || port < 1 || port > 65535) {
                return Outcome.err(Status.ERR_INVAL, "net_sendto: cannot send to \"" + host + "\" port " + port
                        + ": a UDP destination is an IP literal of the socket's family or localhost");
            }
            to = new InetSocketAddress(ip, (int) port);
            boolean local = "localhost".equalsIgnoreCase(host);
            if (u.get().connected()) {
                if (!to.equals(u.get().peerAddress())) {
                    return Outcome.err(Status.ERR_INVAL, "net_sendto: UDP socket " + h + " is connected to "
                            + Hosts.hostPort(u.get().peerAddress().getAddress(), u.get().peerAddress().getPort())
                            + "; send without a destination, or use another socket");
                }
                to = null;
            } else if (!udpConnectRules.allows(local ? "localhost" : null, ip, (int) port)) {
                return deniedUdp(task, "net_sendto", "connect", local ? "localhost:" + port
                        : Hosts.hostPort(ip, (int) port));
            }
        }
        Status st = u.get().sendTo(data, to, this::udpReplyAllowed);
        if (st == Status.OK) {
            return Outcome.ok(Value.of(data.length));
        }
        return Outcome.err(st, switch (st) {
            case ERR_WOULDBLOCK -> "the host has no room for the datagram now";
            case ERR_TOOBIG -> "a datagram of " + data.length + " bytes does not fit in one UDP packet";
            default -> "sendto";
        });
    }

    /** Whether an implicitly bound UDP socket accepts a datagram from {@code from}: a peer net.connect allows. */
    private boolean udpReplyAllowed(InetSocketAddress from) {
        InetAddress a = from.getAddress();
        String name = a.isLoopbackAddress() ? "localhost" : null;
        return udpConnectRules.allows(name, a, from.getPort());
    }

    /** {@code net_recvfrom}: the oldest queued datagram (cut to {@code max} bytes) and its sender. */
    Outcome recvfrom(Task task, Args args) {
        long h = args.i64(0);
        long max = args.i64(1);
        Optional<UdpSocket> u = udpOf(task, h);
        if (u.isEmpty()) {
            return socketOf(task, h).isPresent()
                    ? Outcome.err(Status.ERR_INVAL, "net_recvfrom: socket " + h + " is TCP; net_recvfrom is for UDP"
                    + " sockets")
                    : notASocket(h);
        }
        if (max <= 0) {
            return Outcome.err(Status.ERR_INVAL, "max " + max + " must be positive");
        }
        UdpSocket.Datagram d = u.get().take((int) Math.min(max, MAX_RECV - 64));
        if (d == null) {
            return Outcome.err(Status.ERR_WOULDBLOCK, "no datagram queued");
        }
        return Outcome.ok(Value.of(d.data()), Value.of(Hosts.format(d.from().getAddress())),
                Value.of(d.from().getPort()));
    }

    private Outcome deniedUdp(Task task, String call, String list, String target) {
        deniedLine(task, call, "udp " + target, list, AddressRules.UDP_PREFIX + target);
        return Outcome.audited(Status.ERR_DENIED, "no UDP net." + list + " rule matches " + target);
    }

    private static Outcome notASocket(long h) {
        return Outcome.err(Status.ERR_BADHANDLE, "handle " + h + " is not a socket");
    }

    private static Outcome answer(Status st, String what) {
        return st == Status.OK ? Outcome.ok() : Outcome.err(st, what);
    }

    private Outcome denied(Task task, String call, String list, String target) {
        deniedLine(task, call, target, list, target);
        return Outcome.audited(Status.ERR_DENIED, "no net." + list + " rule matches " + target);
    }

    private void deniedLine(Task task, String call, String shown, String list, String rule) {
        console.audit(task.name(), task.id(), Level.WARN, "net.denied", call + " " + shown + " denied: no net."
                + list + " rule matches; " + hints.allowAddress(list, rule));
    }

    /** Strict UTF-8 without NUL (§2.2), or null. */
    private static String text(byte[] b) {
        try {
            String s = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(b)).toString();
            return s.indexOf('\0') >= 0 ? null : s;
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
