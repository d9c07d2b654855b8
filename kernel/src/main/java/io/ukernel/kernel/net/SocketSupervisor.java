package io.ukernel.kernel.net;

import io.ukernel.kernel.io.Notif;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * The seccomp user-notification supervisor of one worker: the sockets the worker's own code makes ({@code socket()}
 * is allowed for TCP; {@code connect}, {@code bind}, {@code listen}, {@code accept}/{@code accept4} are notified)
 * get their authority here. One platform thread per worker runs {@link #run}: it polls the listener and the
 * operations it has parked, never blocks on one worker call, and ends when the worker is gone (the listener hangs
 * up).
 *
 * <p>For each notification it <b>copies</b> the address out of the worker's memory ({@code /proc/<tid>/mem}), then
 * checks that the notification is still pending ({@code SECCOMP_IOCTL_NOTIF_ID_VALID}: the thread that asked is the
 * one whose memory was read), and from then on uses only its copy: a second thread rewriting the address changes
 * nothing. The decision ({@link Authority}, on the reactor thread) checks the NET capability, {@code [caps.net]} and
 * the task's handle room; the kernel then performs the call on a socket <b>of its own</b> (made in the kernel's
 * network namespace, the worker's options copied over) and puts it in place of the worker's descriptor with
 * {@code SECCOMP_IOCTL_NOTIF_ADDFD} ({@code SETFD}: same number), then answers the call. The worker's call never
 * continues by itself (no {@code SECCOMP_USER_NOTIF_FLAG_CONTINUE}). A blocking connect or accept is parked here
 * (at most {@link #MAX_PARKED}) until the host completes it; a non-blocking one returns {@code EINPROGRESS} /
 * {@code EAGAIN} as the host says, on the kernel's socket, which the worker then polls itself.
 */
public final class SocketSupervisor implements Runnable {
    /** Parked blocking connects and accepts per worker; beyond it a blocking call fails with {@code ENOBUFS}. */
    public static final int MAX_PARKED = 64;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int SYS_CONNECT = 42;
    private static final int SYS_ACCEPT = 43;
    private static final int SYS_BIND = 49;
    private static final int SYS_LISTEN = 50;
    private static final int SYS_ACCEPT4 = 288;
    private static final int SO_ACCEPTCONN = 30;
    /**
     * Options copied from the worker's socket to the kernel's (level, name, bytes): those the filter lets a worker
     * set, and {@code IPV6_V6ONLY}.
     */
    private static final int[][] OPTIONS = {
            {1, 2}, {1, 7}, {1, 8}, {1, 9}, {1, 10}, {1, 13}, {1, 18}, {1, 19}, {1, 20}, {1, 21},
            {6, 1}, {6, 3}, {6, 4}, {6, 5}, {6, 6}, {6, 18}, {6, 25}, {0, 1}, {41, 67}, {41, 26}};

    /** What the kernel decides, on its reactor thread. */
    public interface Authority {
        /**
         * Whether the worker may {@code call} ({@code connect}, {@code bind}, {@code listen}, {@code accept}) the
         * address (null for listen/accept), holding {@code live} sockets made this way: 0 when allowed, else the
         * errno to answer (the authority wrote the console line).
         */
        int decide(String call, InetAddress ip, int port, int live);

        /** An audit line for a call the kernel performed. */
        void performed(String call, String what, boolean routine);
    }

    private final int listener;
    private final int pidfd;
    private final long pid;
    private final Authority authority;
    private final java.util.concurrent.Executor reactor;
    private final List<Parked> parked = new ArrayList<>();
    /** Inodes of the sockets made here that the worker may still hold (pruned against /proc/pid/fd). */
    private final Set<Long> live = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** What names each of {@link #live} for {@link Notif#sockDestroy}, when the worker holds it in no descriptor. */
    private final java.util.Map<Long, Ident> idents = new java.util.concurrent.ConcurrentHashMap<>();

    private record Ident(byte[] local, byte[] peer, long cookie) {}
    /** Guards {@link #pidfd} between the supervisor's end and {@link #revokeAll} (another thread). */
    private final Object pidfdLock = new Object();
    private boolean ended;

    private record Parked(long id, int tid, int fd, int ours, boolean accept, boolean nonblock, long addr,
            long lenAddr, String what) {}

    /**
     * @param listener the notification descriptor (this object owns it)
     * @param pidfd    a pidfd of the worker process (owned too)
     * @param pid      its host pid
     * @param reactor  where {@code authority} runs
     */
    public SocketSupervisor(int listener, int pidfd, long pid, Authority authority,
            java.util.concurrent.Executor reactor) {
        this.listener = listener;
        this.pidfd = pidfd;
        this.pid = pid;
        this.authority = authority;
        this.reactor = reactor;
    }

    /** Starts the supervisor's thread. */
    public void start(String name) {
        Thread t = new Thread(this, "ukernel-notify-" + name);
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Notif.NOTIF_SIZE, 8);
            MemorySegment fds = arena.allocate(8L * (1 + MAX_PARKED), 8);
            int[] errno = new int[1];
            while (true) {
                Notif.pollfd(fds, 0, listener, Notif.POLLIN);
                int n = parked.size();
                for (int i = 0; i < n; i++) {
                    Notif.pollfd(fds, i + 1, parked.get(i).ours, parked.get(i).accept ? Notif.POLLIN : Notif.POLLOUT);
                }
                // With parked calls, wake now and then to drop those whose caller went away (a signal, a kill).
                int r = Notif.poll(fds, n + 1, n == 0 ? -1 : 1000);
                if (r == -Notif.EINTR) {
                    continue;
                }
                if (r < 0) {
                    break;
                }
                List<Parked> ready = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    if (Notif.revents(fds, i + 1) != 0) {
                        ready.add(parked.get(i));
                    }
                }
                for (Parked p : ready) {
                    parked.remove(p);
                    finish(p);
                }
                if (r == 0) {
                    parked.removeIf(p -> {
                        if (Notif.valid(listener, p.id)) {
                            return false;
                        }
                        Notif.close(p.ours);
                        return true;
                    });
                }
                int re = Notif.revents(fds, 0);
                if ((re & Notif.POLLIN) != 0) {
                    Notif.Request req = Notif.recv(listener, buf, errno);
                    if (req != null) {
                        handle(req);
                    }
                } else if ((re & (Notif.POLLHUP | Notif.POLLERR | Notif.POLLNVAL)) != 0) {
                    break; // the worker is gone: no filter user is left
                }
            }
        } finally {
            for (Parked p : parked) {
                Notif.close(p.ours);
            }
            parked.clear();
            Notif.close(listener);
            synchronized (pidfdLock) {
                ended = true;
                Notif.close(pidfd);
            }
        }
    }

    /**
     * Revokes every socket made this way that the worker still holds ({@code NET} dropped): each is shut down
     * ({@code SHUT_RDWR}, on a copy taken with {@code pidfd_getfd}), so the worker's descriptor reads end of stream
     * and writes fail, and the peer sees the connection end. Those in no descriptor of the worker (in flight in a
     * Unix socket's queue, or in a child's table) are destroyed by the identity recorded when they were made
     * ({@link Notif#sockDestroy}: the peer gets a reset). Any thread. Returns how many were shut down or destroyed.
     */
    public int revokeAll() {
        synchronized (pidfdLock) {
            if (ended || live.isEmpty()) {
                return 0;
            }
            int n = 0;
            try (var dir = Files.newDirectoryStream(Path.of("/proc/" + pid + "/fd"))) {
                for (Path p : dir) {
                    long ino = socketInode(p);
                    if (ino < 0 || !live.contains(ino)) {
                        continue;
                    }
                    int copy = Notif.pidfdGetfd(pidfd, Integer.parseInt(p.getFileName().toString()));
                    if (copy < 0) {
                        continue;
                    }
                    if (inode(copy) == ino) { // still the same socket (the worker may have reused the number)
                        io.ukernel.kernel.io.RawFd.shutdown(copy);
                        n++;
                    }
                    Notif.close(copy);
                    live.remove(ino);
                    idents.remove(ino);
                }
            } catch (IOException | NumberFormatException e) {
                return n; // the worker is gone: its sockets went with it
            }
            // Those in no descriptor of the worker: in flight in a Unix socket's queue (SCM_RIGHTS) or in a child's
            // table. pidfd_getfd cannot name them; Linux destroys them by identity (the peer gets a reset).
            for (Long ino : List.copyOf(live)) {
                Ident id = idents.get(ino);
                if (id != null && Notif.sockDestroy(id.local(), id.peer(), id.cookie()) == 0) {
                    n++;
                }
                live.remove(ino);
                idents.remove(ino);
            }
            return n;
        }
    }

    private static long socketInode(Path fdLink) {
        try {
            String link = Files.readSymbolicLink(fdLink).toString();
            return link.startsWith("socket:[") ? Long.parseLong(link.substring(8, link.length() - 1)) : -1;
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    private void handle(Notif.Request req) {
        try {
            switch (req.nr()) {
                case SYS_CONNECT -> connect(req);
                case SYS_BIND -> bind(req);
                case SYS_LISTEN -> listen(req);
                case SYS_ACCEPT, SYS_ACCEPT4 -> accept(req, req.nr() == SYS_ACCEPT4 ? (int) req.args()[3] : 0);
                default -> Notif.send(listener, req.id(), 0, Notif.EPERM);
            }
        } catch (RuntimeException e) {
            Notif.send(listener, req.id(), 0, Notif.EPERM); // never leave the worker's thread waiting
        }
    }

    /** A copied, parsed address: the bytes the kernel will use and what they say. */
    private record Address(byte[] raw, int family, InetAddress ip, int port) {
        String text() {
            return Hosts.hostPort(ip, port);
        }
    }

    /** Reads the sockaddr of {@code req} (pointer in args[1], length in args[2]); an errno in {@code err[0]}. */
    private Address address(Notif.Request req, int[] err) {
        long ptr = req.args()[1];
        int len = (int) req.args()[2];
        if (len < 2 || len > 128) {
            err[0] = Notif.EINVAL;
            return null;
        }
        byte[] raw = readMemory(req.pid(), ptr, len);
        if (!Notif.valid(listener, req.id())) {
            err[0] = -1; // the caller went away: no answer
            return null;
        }
        if (raw == null) {
            err[0] = Notif.EFAULT;
            return null;
        }
        int family = (raw[0] & 0xFF) | (raw[1] & 0xFF) << 8;
        try {
            if (family == AF_INET && len >= 16) {
                byte[] a = java.util.Arrays.copyOfRange(raw, 4, 8);
                return new Address(java.util.Arrays.copyOf(raw, 16), family, InetAddress.getByAddress(a),
                        (raw[2] & 0xFF) << 8 | raw[3] & 0xFF);
            }
            if (family == AF_INET6 && len >= 28) {
                byte[] a = java.util.Arrays.copyOfRange(raw, 8, 24);
                return new Address(java.util.Arrays.copyOf(raw, 28), family, InetAddress.getByAddress(a),
                        (raw[2] & 0xFF) << 8 | raw[3] & 0xFF);
            }
        } catch (UnknownHostException e) {
            // not reached: the lengths are right
        }
        err[0] = family == AF_INET || family == AF_INET6 ? Notif.EINVAL : Notif.EPERM;
        return null;
    }

    private byte[] readMemory(int tid, long address, int n) {
        int mem = Notif.open("/proc/" + tid + "/mem", Notif.O_CLOEXEC);
        if (mem < 0) {
            return null;
        }
        try {
            return Notif.readMemory(mem, address, n);
        } finally {
            Notif.close(mem);
        }
    }

    /** The worker's socket {@code fd} (a copy the caller closes), when it is a TCP socket; else -errno. */
    private int workerSocket(int fd) {
        int w = Notif.pidfdGetfd(pidfd, fd);
        if (w < 0) {
            return w;
        }
        int domain = Notif.getsockoptInt(w, Notif.SOL_SOCKET, Notif.SO_DOMAIN);
        int type = Notif.getsockoptInt(w, Notif.SOL_SOCKET, Notif.SO_TYPE);
        if (domain != AF_INET && domain != AF_INET6 || type != Notif.SOCK_STREAM) {
            Notif.close(w);
            return -Notif.EPERM; // the kernel connection or a socketpair: never re-pointed
        }
        return w;
    }

    private int decide(String call, InetAddress ip, int port) {
        CompletableFuture<Integer> f = new CompletableFuture<>();
        if (live.size() > 0) {
            prune();
        }
        int n = live.size();
        reactor.execute(() -> {
            try {
                f.complete(authority.decide(call, ip, port, n));
            } catch (RuntimeException e) {
                f.complete(Notif.EPERM);
            }
        });
        try {
            return f.get();
        } catch (InterruptedException | ExecutionException e) {
            return Notif.EPERM;
        }
    }

    /**
     * Forgets the sockets nobody holds any more. A socket missing from the worker's descriptor table may still be
     * held: in flight in a Unix socket's queue ({@code SCM_RIGHTS}, taken back later with {@code recvmsg}) or in a
     * child's table. It is forgotten only when the kernel's own network namespace no longer lists its inode
     * ({@code /proc/self/net/tcp}, {@code tcp6}: a socket no descriptor refers to is orphaned, its inode shown as 0).
     */
    private void prune() {
        Set<Long> held = new HashSet<>();
        try (var dir = Files.newDirectoryStream(Path.of("/proc/" + pid + "/fd"))) {
            for (Path p : dir) {
                long ino = socketInode(p);
                if (ino >= 0) {
                    held.add(ino);
                }
            }
        } catch (IOException e) {
            return;
        }
        Set<Long> missing = new HashSet<>(live);
        missing.removeAll(held);
        if (missing.isEmpty()) {
            return;
        }
        Set<Long> open = new HashSet<>();
        for (String table : new String[] {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
            try {
                for (String line : Files.readAllLines(Path.of(table))) {
                    String[] f = line.trim().split("\\s+");
                    if (f.length > 9 && f[9].chars().allMatch(Character::isDigit)) {
                        long ino = Long.parseLong(f[9]);
                        if (missing.contains(ino)) {
                            open.add(ino);
                        }
                    }
                }
            } catch (IOException | NumberFormatException e) {
                return; // cannot tell: keep counting them (fails closed)
            }
        }
        missing.removeAll(open);
        live.removeAll(missing);
        idents.keySet().removeAll(missing);
    }

    /** Records what names {@code fd} (a socket of ours) for a later {@link Notif#sockDestroy}. */
    private void remember(long ino, int fd, byte[] peer) {
        byte[] local = Notif.name(fd, false);
        byte[] c = Notif.getsockopt(fd, Notif.SOL_SOCKET, 57 /* SO_COOKIE */, 8);
        if (local == null || local.length < 16 || c == null || c.length != 8) {
            return;
        }
        long cookie = java.nio.ByteBuffer.wrap(c).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        idents.put(ino, new Ident(local, peer, cookie));
    }

    private static long inode(int fd) {
        try {
            String link = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            return link.startsWith("socket:[") ? Long.parseLong(link.substring(8, link.length() - 1)) : -1;
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /** Whether the socket has a local port (bound, or once connected). */
    private static boolean bound(int fd) {
        byte[] local = Notif.name(fd, false);
        return local != null && local.length >= 4 && (local[2] | local[3]) != 0;
    }

    private static void copyOptions(int from, int to) {
        for (int[] o : OPTIONS) {
            byte[] v = Notif.getsockopt(from, o[0], o[1], 16);
            if (v != null) {
                Notif.setsockopt(to, o[0], o[1], v);
            }
        }
    }

    private static void blocking(int fd, boolean nonblock) {
        int fl = Notif.fcntl(fd, Notif.F_GETFL, 0);
        if (fl >= 0) {
            Notif.fcntl(fd, Notif.F_SETFL, nonblock ? fl | Notif.O_NONBLOCK : fl & ~Notif.O_NONBLOCK);
        }
    }

    /**
     * The kernel's own socket for a worker's {@code connect} or {@code bind} on its descriptor {@code req.args()[0]}:
     * the address copied and decided, the worker's socket never re-pointed, the worker's options copied onto a new
     * socket of its domain (non-blocking when {@code nonblocking} or when the worker's is). Null once the
     * notification is answered with the refusal.
     */
    private Fresh fresh(Notif.Request req, String call, boolean nonblocking) {
        int[] err = new int[1];
        Address a = address(req, err);
        if (a == null) {
            if (err[0] > 0) {
                Notif.send(listener, req.id(), 0, err[0]);
            }
            return null;
        }
        int w = workerSocket((int) req.args()[0]);
        if (w < 0) {
            Notif.send(listener, req.id(), 0, -w);
            return null;
        }
        try {
            int domain = Notif.getsockoptInt(w, Notif.SOL_SOCKET, Notif.SO_DOMAIN);
            if (domain == AF_INET && a.family() != AF_INET) {
                Notif.send(listener, req.id(), 0, Notif.EAFNOSUPPORT);
                return null;
            }
            if (Notif.name(w, true) != null || bound(w)) {
                Notif.send(listener, req.id(), 0, Notif.EPERM); // a socket in use is never re-pointed
                return null;
            }
            int e = decide(call, a.ip(), a.port());
            if (e != 0) {
                Notif.send(listener, req.id(), 0, e);
                return null;
            }
            boolean nonblock = (Notif.fcntl(w, Notif.F_GETFL, 0) & Notif.O_NONBLOCK) != 0;
            int ours = Notif.socket(domain, Notif.SOCK_STREAM | Notif.SOCK_CLOEXEC
                    | (nonblocking || nonblock ? Notif.SOCK_NONBLOCK : 0), 0);
            if (ours < 0) {
                Notif.send(listener, req.id(), 0, -ours);
                return null;
            }
            copyOptions(w, ours);
            return new Fresh(a, ours, nonblock);
        } finally {
            Notif.close(w);
        }
    }

    /** The kernel's socket made for a worker's call, its address, and whether the worker's socket is non-blocking. */
    private record Fresh(Address a, int ours, boolean nonblock) {}

    private void connect(Notif.Request req) {
        int fd = (int) req.args()[0];
        Fresh f = fresh(req, "connect", true); // connected without blocking the supervisor: parked if it waits
        if (f == null) {
            return;
        }
        Address a = f.a();
        int ours = f.ours();
        boolean nonblock = f.nonblock();
        int r = Notif.connect(ours, a.raw());
        String what = "fd " + fd + " -> " + a.text();
        if (r == 0 || r == -Notif.EINPROGRESS && nonblock) {
            if (!nonblock) {
                blocking(ours, false);
            }
            inject(req.id(), ours, fd, r, "connect", what, a.raw());
        } else if (r == -Notif.EINPROGRESS) {
            park(new Parked(req.id(), req.pid(), fd, ours, false, false, 0, 0, what));
        } else {
            Notif.close(ours);
            Notif.send(listener, req.id(), 0, -r);
        }
    }

    private void park(Parked p) {
        if (parked.size() >= MAX_PARKED) {
            Notif.close(p.ours);
            Notif.send(listener, p.id, 0, Notif.ENOBUFS);
            return;
        }
        parked.add(p);
    }

    /** Puts {@code ours} at the worker's {@code fd} and answers {@code result} (0 or -errno); closes ours. */
    private void inject(long id, int ours, int fd, int result, String call, String what, byte[] peer) {
        try {
            long ino = inode(ours);
            int r = Notif.addfd(listener, id, ours, fd, false);
            if (r < 0) {
                return; // the caller went away: the socket goes with our copy
            }
            live.add(ino);
            remember(ino, ours, peer);
            Notif.send(listener, id, result >= 0 ? result : 0, result >= 0 ? 0 : -result);
            authority.performed(call, what, false);
        } finally {
            Notif.close(ours);
        }
    }

    private void finish(Parked p) {
        if (p.accept) {
            acceptNow(p);
            return;
        }
        int soError = Notif.getsockoptInt(p.ours, Notif.SOL_SOCKET, Notif.SO_ERROR);
        if (soError != 0) {
            Notif.close(p.ours);
            Notif.send(listener, p.id, 0, soError == Integer.MIN_VALUE ? Notif.EINVAL : soError);
            return;
        }
        blocking(p.ours, false);
        inject(p.id, p.ours, p.fd, 0, "connect", p.what, Notif.name(p.ours, true));
    }

    private void bind(Notif.Request req) {
        int fd = (int) req.args()[0];
        Fresh f = fresh(req, "bind", false);
        if (f == null) {
            return;
        }
        Address a = f.a();
        int ours = f.ours();
        int r = Notif.bind(ours, a.raw());
        if (r < 0) {
            Notif.close(ours);
            Notif.send(listener, req.id(), 0, -r);
            return;
        }
        inject(req.id(), ours, fd, 0, "bind", "fd " + fd + " " + a.text(), null);
    }

    private void listen(Notif.Request req) {
        int fd = (int) req.args()[0];
        int w = workerSocket(fd);
        if (w < 0) {
            Notif.send(listener, req.id(), 0, -w);
            return;
        }
        try {
            if (Notif.name(w, true) != null) {
                Notif.send(listener, req.id(), 0, Notif.EPERM); // a connected socket: never a listener
                return;
            }
            if (!bound(w)) {
                // Linux would bind it to a port of its choosing on every address: never without a bind rule
                authority.performed("listen", "fd " + fd + " refused (EPERM): the socket is not bound; bind it to"
                        + " an address net.bind allows first", false);
                Notif.send(listener, req.id(), 0, Notif.EPERM);
                return;
            }
            int e = decide("listen", null, 0); // NET still active: a socket bound before a cap_drop stays mute
            if (e != 0) {
                Notif.send(listener, req.id(), 0, e);
                return;
            }
            int r = Notif.listen(w, (int) Math.clamp(req.args()[1], 0, 4096));
            Notif.send(listener, req.id(), 0, r < 0 ? -r : 0);
        } finally {
            Notif.close(w);
        }
    }

    private void accept(Notif.Request req, int flags) {
        int fd = (int) req.args()[0];
        int w = workerSocket(fd);
        if (w < 0) {
            Notif.send(listener, req.id(), 0, -w);
            return;
        }
        if (Notif.getsockoptInt(w, Notif.SOL_SOCKET, SO_ACCEPTCONN) != 1) {
            Notif.close(w);
            Notif.send(listener, req.id(), 0, Notif.EINVAL);
            return;
        }
        boolean listenerNonblock = (Notif.fcntl(w, Notif.F_GETFL, 0) & Notif.O_NONBLOCK) != 0;
        Parked p = new Parked(req.id(), req.pid(), flags, w, true, (flags & Notif.SOCK_NONBLOCK) != 0,
                req.args()[1], req.args()[2], "fd " + fd);
        if (!acceptNow(p) && !listenerNonblock) {
            park(p);
            return;
        }
    }

    /**
     * Accepts on the listener {@code p.ours} for the notification {@code p.id}; false when no connection is pending
     * (the caller parks it, or it was answered EAGAIN when {@code p} is not parkable). Closes {@code p.ours} when
     * done.
     */
    private boolean acceptNow(Parked p) {
        int e = decide("accept", null, 0);
        if (e != 0) {
            Notif.close(p.ours);
            Notif.send(listener, p.id, 0, e);
            return true;
        }
        byte[][] peer = new byte[1][];
        // The listener's file description is the worker's too: made non-blocking for this one accept (every accept
        // of the worker comes through this thread), so the kernel never waits in it.
        int fl = Notif.fcntl(p.ours, Notif.F_GETFL, 0);
        boolean listenerNonblock = fl >= 0 && (fl & Notif.O_NONBLOCK) != 0;
        if (fl >= 0 && !listenerNonblock) {
            Notif.fcntl(p.ours, Notif.F_SETFL, fl | Notif.O_NONBLOCK);
        }
        int c = Notif.accept4(p.ours, Notif.SOCK_NONBLOCK | Notif.SOCK_CLOEXEC, peer);
        if (fl >= 0 && !listenerNonblock) {
            Notif.fcntl(p.ours, Notif.F_SETFL, fl);
        }
        if (c == -Notif.EAGAIN) {
            if (listenerNonblock || fl < 0) {
                Notif.close(p.ours);
                Notif.send(listener, p.id, 0, Notif.EAGAIN);
                return true;
            }
            return false;
        }
        Notif.close(p.ours);
        if (c < 0) {
            Notif.send(listener, p.id, 0, -c);
            return true;
        }
        try {
            blocking(c, p.nonblock);
            long ino = inode(c);
            int n = Notif.addfd(listener, p.id, c, -1, false);
            if (n < 0) {
                return true; // the caller went away: the connection is closed with our copy
            }
            live.add(ino);
            remember(ino, c, Notif.name(c, true));
            writePeer(p, peer[0]);
            Notif.send(listener, p.id, n, 0);
            authority.performed("accept", p.what + " <- " + peerText(peer[0]) + " as fd " + n, true);
            return true;
        } finally {
            Notif.close(c);
        }
    }

    private void writePeer(Parked p, byte[] peer) {
        if (p.addr == 0 || p.lenAddr == 0 || peer == null) {
            return;
        }
        int mem = Notif.open("/proc/" + p.tid + "/mem", 2 | Notif.O_CLOEXEC);
        if (mem < 0) {
            return;
        }
        try {
            byte[] lenBytes = Notif.readMemory(mem, p.lenAddr, 4);
            if (lenBytes == null) {
                return;
            }
            int room = (lenBytes[0] & 0xFF) | (lenBytes[1] & 0xFF) << 8 | (lenBytes[2] & 0xFF) << 16
                    | (lenBytes[3] & 0xFF) << 24;
            if (room > 0) {
                Notif.writeMemory(mem, p.addr, java.util.Arrays.copyOf(peer, Math.min(room, peer.length)));
            }
            int n = peer.length;
            Notif.writeMemory(mem, p.lenAddr, new byte[] {(byte) n, (byte) (n >> 8), (byte) (n >> 16), (byte) (n >> 24)});
        } finally {
            Notif.close(mem);
        }
    }

    private static String peerText(byte[] raw) {
        try {
            int family = (raw[0] & 0xFF) | (raw[1] & 0xFF) << 8;
            int port = (raw[2] & 0xFF) << 8 | raw[3] & 0xFF;
            InetAddress ip = family == AF_INET ? InetAddress.getByAddress(java.util.Arrays.copyOfRange(raw, 4, 8))
                    : InetAddress.getByAddress(java.util.Arrays.copyOfRange(raw, 8, 24));
            return Hosts.hostPort(ip, port);
        } catch (UnknownHostException | RuntimeException e) {
            return "?";
        }
    }
}
