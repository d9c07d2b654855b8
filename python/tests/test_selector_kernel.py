"""``KernelSelector`` against the real kernel: an ``io_poll`` parked across selects, host descriptors and kernel keys
in one wait, readiness mapping (READABLE/WRITABLE/HANGUP), one kernel call per socket read, polls beyond 1024 pairs,
and
``KernelSocket`` in blocking mode. Each test runs one app through ``<repo>/ukernel run``; the app asserts and
prints a marker."""

import pytest

from test_e2e_kernel import NET_PENDING, PROBE, check, run_app, write_app

pytestmark = pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")


@pytest.fixture
def app_dir(tmp_path):
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    return tmp_path / "app"


MANIFEST = """
    name = "selector"
    entry = "src/main.py"
    [caps]
    grant = ["LOG", "NET", "IPC"]
    [caps.net]
    bind = ["127.0.0.1:*"]
    connect = ["127.0.0.1:*"]
    [limits]
    handles = 4096
    """


def test_selector_over_io_poll(app_dir):
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import selectors
        import time

        import ukernel
        from ukernel import Channel, KernelSelector, KernelSocket
        from ukernel._client import KEY_BASE

        R, W = selectors.EVENT_READ, selectors.EVENT_WRITE


        def main():
            ukernel.cap_acquire("LOG", "IPC", "NET")
            client = ukernel.client()
            sel = KernelSelector()
            assert isinstance(sel, selectors.BaseSelector)

            t0 = time.monotonic()
            assert sel.select(0.05) == []  # nothing registered: a sleep of the timeout
            assert time.monotonic() - t0 >= 0.04
            polls = sel.polls

            import socket

            hr, hw = socket.socketpair()  # a host descriptor waits in the same select
            hkey = sel.register(hr, R, "host")
            hw.send(b"x")
            assert sel.select(5) == [(hkey, R)]
            hr.recv(1)

            a, b = Channel.pair()
            key = sel.register(b, R, "data-b")
            assert key.fd >= KEY_BASE and client.handle_of(key.fd) == b.handle, (key, b.handle)
            assert sel.get_key(b) is key and sel.get_key(key.fd) is key and len(sel.get_map()) == 2  # b and hr
            assert sel.get_map()[b] is key
            try:
                sel.register(b, R)
                raise AssertionError("registered twice")
            except KeyError:
                pass
            assert sel.select(0) == []
            assert sel.select(0) == [] and sel.polls == polls + 1  # the poll stays parked while the set is the same
            a.send(b"ping")
            assert sel.select(5) == [(key, R)]
            assert b.recv() == (b"ping", [])
            key = sel.modify(b, R | W, "rw")
            got = 0  # (a poll answered before the recv may still say READABLE once: level-triggered, like epoll)
            while not got & W:
                ready = sel.select(5)
                assert ready and all(k == key for k, m in ready), ready
                got |= ready[0][1]
            assert sel.select(0) == []
            key = sel.modify(b, R, "r")
            a.close()
            assert sel.select(5) == [(key, R)]  # HANGUP reported to the reader
            assert sel.unregister(b) is key
            sel.unregister(hr)
            hr.close()
            hw.close()
            try:
                sel.unregister(b)
                raise AssertionError("unregistered twice")
            except KeyError:
                pass
            b.close()

            # sockets: readable ones are reported; each recv is one kernel call
            server = KernelSocket()
            server.bind(("127.0.0.1", 0))
            server.listen(8)
            port = server.getsockname()[1]
            assert server.fileno() >= KEY_BASE
            clients = []
            conns = []
            for i in range(4):
                c = KernelSocket()
                c.connect(("127.0.0.1", port))  # blocking mode: waits with io_poll
                clients.append(c)
                conn, peer = server.accept()
                assert peer == c.getsockname(), (peer, c.getsockname())
                assert conn.getpeername() == peer and c.getpeername() == ("127.0.0.1", port)
                conns.append(conn)
                sel.register(conn, R, i)
            for i, c in enumerate(clients):
                c.sendall(b"hello %d" % i)
            got = {}
            deadline = time.monotonic() + 120  # only bounds a hang
            while len(got) < 4 and time.monotonic() < deadline:
                for k, mask in sel.select(1):
                    assert mask == R
                    if k.data not in got:
                        got[k.data] = conns[k.data].recv(3)
            assert sorted(got) == [0, 1, 2, 3] and all(v == b"hel" for v in got.values()), got
            # the rest stays in the kernel: still readable, also for a new registration
            sel.unregister(conns[0])
            seen = set()
            while seen != {1, 2, 3} and time.monotonic() < deadline:
                seen |= {k.data for k, m in sel.select(1)}
            assert seen == {1, 2, 3}, seen
            k0 = sel.register(conns[0], R, 0)
            assert (k0, R) in sel.select(5)
            for i, conn in enumerate(conns):
                assert conn.recv(100) == b"lo %d" % i
            clients[0].shutdown(1)  # SHUT_WR: end of stream
            assert sel.select(5) == [(k0, R)] and conns[0].recv(10) == b""
            for s in clients + conns + [server]:
                try:
                    sel.unregister(s)
                except KeyError:
                    pass
                s.close()
            assert server.fileno() == -1

            # more pairs than one io_poll takes (1024): parked in chunks
            pairs = [Channel.pair() for _ in range(700)]
            for i, (x, y) in enumerate(pairs):
                sel.register(y, R, i)
            assert len(sel.get_map()) == 700
            for i, (x, y) in enumerate(pairs):
                sel.register(x, W, -i)
            writable = set()
            while len(writable) < 700 and time.monotonic() < deadline:
                ready = sel.select(5)
                assert all(k.data <= 0 and m == W for k, m in ready), ready
                writable |= {k.data for k, m in ready}
            assert len(writable) == 700  # every x is writable, in whichever chunk
            for x, y in pairs:
                sel.unregister(x)
            pairs[650][0].send(b"far")
            ready = sel.select(5)
            assert [(k.data, m) for k, m in ready] == [(650, R)], ready
            sel.close()
            ukernel.info("SELECTOR OK: %d polls" % sel.polls)
            return 0
        """})
    check(run_app(app_dir), "SELECTOR OK")


def test_kernel_socket_blocking_mode_and_errors(app_dir):
    write_app(app_dir, MANIFEST.replace('connect = ["127.0.0.1:*"]', 'connect = ["127.0.0.1:*", "*.invalid:80"]'), {
        "src/main.py": """
        import errno
        import socket

        import ukernel
        from ukernel import KernelSocket


        def main():
            ukernel.cap_acquire("LOG")
            server = KernelSocket(socket.AF_INET, socket.SOCK_STREAM)  # acquires NET itself (granted)
            assert ukernel.cap_query()[0] & ukernel.Cap.NET
            assert server.family == socket.AF_INET and server.type == socket.SOCK_STREAM
            assert server.gettimeout() is None and server.getblocking()
            server.bind(("127.0.0.1", 0))
            server.listen()
            port = server.getsockname()[1]
            server.settimeout(0.05)
            try:
                server.accept()
                raise AssertionError("accept did not time out")
            except TimeoutError:
                pass
            server.setblocking(False)
            try:
                server.accept()
                raise AssertionError("accept did not raise BlockingIOError")
            except BlockingIOError:
                pass
            c = KernelSocket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError as e:
                assert e.errno == errno.EINPROGRESS
            server.setblocking(True)
            conn, _ = server.accept()
            c.setblocking(True)
            assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted, the kernel's choice
            c.sendall(b"x" * 300_000)
            buf = bytearray(300_000)
            got = 0
            view = memoryview(buf)
            while got < len(buf):
                got += conn.recv_into(view[got:])
            assert bytes(buf) == b"x" * 300_000
            conn.close()
            assert c.recv(10) == b""  # EOF after the peer closed
            c.close()
            c.close()  # twice is fine
            try:
                c.send(b"x")
                raise AssertionError("send on a closed socket")
            except OSError as e:
                assert e.errno == errno.EBADF

            # refused: nothing listens any more
            server.close()
            r = KernelSocket()
            try:
                r.connect(("127.0.0.1", port))
                raise AssertionError("connected to a closed port")
            except ConnectionRefusedError:
                pass
            r.close()
            r = KernelSocket()
            assert r.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
            r.close()
            # outside the allow-list: PermissionError naming the rule
            d = KernelSocket()
            try:
                d.connect(("127.0.0.2", 9))
                raise AssertionError("connect outside the allow-list")
            except PermissionError as e:
                assert "127.0.0.2:9" in str(e) and "[caps.net]" in str(e), e
            try:
                d.bind(("0.0.0.0", 9999))
                raise AssertionError("bind outside the allow-list")
            except PermissionError as e:
                assert "0.0.0.0:9999" in str(e), e
            d.close()
            # a name the kernel cannot resolve (allowed by a name rule, resolved by the kernel): gaierror
            n = KernelSocket()
            try:
                n.connect(("no-such-host.invalid", 80))
                raise AssertionError("connected to .invalid")
            except socket.gaierror as e:
                assert "no-such-host.invalid" in str(e), e
            except OSError as e:  # some resolvers fail differently; it must still be an OSError naming it
                assert "no-such-host.invalid" in str(e), e
            n.close()
            try:
                KernelSocket(socket.AF_INET, socket.SOCK_RAW)
                raise AssertionError("a raw socket accepted")
            except OSError as e:
                assert e.errno == errno.EPROTONOSUPPORT and "UDP (SOCK_DGRAM)" in str(e), e
            try:
                KernelSocket(socket.AF_UNIX)
                raise AssertionError("AF_UNIX accepted")
            except OSError as e:
                assert e.errno == errno.EAFNOSUPPORT
            ukernel.info("KERNEL SOCKET OK")
            return 0
        """})
    check(run_app(app_dir), "KERNEL SOCKET OK")


def test_kernel_socket_needs_net_in_the_grant(app_dir):
    write_app(app_dir, """
        name = "no-net"
        entry = "src/main.py"
        [caps]
        grant = ["LOG"]
        """, {"src/main.py": """
        import asyncio

        import ukernel


        async def main():
            ukernel.cap_acquire("LOG")
            try:
                await asyncio.open_connection("127.0.0.1", 9)
                raise AssertionError("a socket without NET")
            except PermissionError as e:
                ukernel.info("refused: %s" % e)
                assert "NET" in str(e) and "ukernel.toml" in str(e), e
            return 0
        """})
    check(run_app(app_dir), "refused: ", "[caps] grant")
