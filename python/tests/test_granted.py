"""ABI 1.1 granted descriptors end to end: ``NET_DIRECT`` sockets through the real kernel (``ukernel run``).

A direct ``net_connect`` waits until the host connected and hands the worker the host descriptor; a direct
listener stays in the kernel and grants each accepted connection. The worker then moves the bytes itself on a real
``socket.socket``; the kernel keeps its own reference (``net_addr`` answers, ``ERR_BUSY`` for the bytes) and closing
the handle ends the connection for both.
"""

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = os.environ.get("UKERNEL_E2E_LAUNCHER") or str(REPO / "ukernel")
RUN_TIMEOUT = 900  # the first run may build the CLI


def write_app(root, manifest, main):
    root = Path(root)
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "ukernel.toml").write_text(textwrap.dedent(manifest).lstrip())
    (root / "src" / "main.py").write_text(textwrap.dedent(main).lstrip())
    return root


def run_app(app, *extra):
    proc = subprocess.run([LAUNCHER, "run", str(app), "-q", *extra], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=str(app))
    log = Path(app) / "logs" / "console.log"
    text = log.read_text("utf-8", "replace") if log.exists() else ""
    return proc.returncode, text, "exit status %s\n--- console.log ---\n%s\n--- stderr ---\n%s" % (
        proc.returncode, text, proc.stderr)


MANIFEST = """
    name = "granted"
    entry = "src/main.py"
    [caps]
    grant = ["LOG", "NET"]
    [caps.net]
    bind = ["127.0.0.1:0"]
    connect = ["127.0.0.1:*"]
    """

ROUND_TRIP = """
    import select
    import socket

    import ukernel


    def wait(sock, write=False):
        r, w, _ = select.select([] if write else [sock], [sock] if write else [], [], 60)
        assert r or w, "nothing happened in 60 s on %r" % sock


    def send_all(sock, data):
        view = memoryview(data)
        while view:
            try:
                view = view[sock.send(view):]
            except BlockingIOError:
                wait(sock, write=True)


    def recv_until_eof(sock):
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                wait(sock)
                continue
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


    def main():
        ukernel.cap_acquire("LOG", "NET")
        c = ukernel.client()
        server = c.net_socket(direct=True)
        c.net_bind(server, "127.0.0.1", 0)
        c.net_listen(server, 8)
        host, port = c.net_addr(server)

        client = c.connect_direct(host, port)
        assert isinstance(client, socket.socket) and client.family == socket.AF_INET, client
        assert client.type == socket.SOCK_STREAM and not client.getblocking(), client
        assert client.getpeername() == (host, port), client.getpeername()
        assert c.net_addr(client.handle, ukernel.NET_ADDR_PEER) == (host, port)

        while True:
            try:
                conn, peer_host, peer_port = c.net_accept(server)
                break
            except BlockingIOError:
                ukernel.poll([(server, ukernel.EV_READABLE)], timeout=60)
        assert isinstance(conn, socket.socket), conn
        assert (peer_host, peer_port) == client.getsockname() == conn.getpeername()
        assert c.net_addr(conn.handle, ukernel.NET_ADDR_LOCAL) == conn.getsockname()

        for call, args in (("net_send", (b"x",)), ("net_recv", (10,))):
            try:
                getattr(c, call)(conn.handle, *args)
            except ukernel.BusyError as e:
                ukernel.info("%s on a granted socket: %s" % (call, e.status))
            else:
                raise AssertionError(call + " went through the kernel on a granted socket")

        request = b"ping " * 100000
        send_all(client, request)
        client.shutdown(socket.SHUT_WR)
        got = recv_until_eof(conn)
        assert got == request, len(got)
        send_all(conn, b"pong:%d" % len(got))
        conn.close()  # the descriptor, then the kernel handle: the peer sees the end of the stream
        reply = recv_until_eof(client)
        assert reply == b"pong:500000", reply
        client.close()
        c.net_close(server)
        ukernel.info("granted round trip ok: %s" % reply.decode())
        return 0
    """


def test_direct_connect_and_accept_move_the_bytes_on_host_sockets(tmp_path):
    app = write_app(tmp_path / "app", MANIFEST, ROUND_TRIP)
    status, log, explain = run_app(app, "--debug")
    assert status == 0, explain
    for needle in ("granted round trip ok: pong:500000", "net_send on a granted socket: ERR_BUSY",
                   "net_recv on a granted socket: ERR_BUSY", "net_connect: socket", "net_accept: socket"):
        assert needle in log, "%r not in the console log\n%s" % (needle, explain)


AUTHORITY = """
    import select
    import socket

    import ukernel


    def pair(c, server):
        client = c.connect_direct("127.0.0.1", c.net_addr(server)[1])
        while True:
            try:
                conn = c.net_accept(server)[0]
                return client, conn
            except BlockingIOError:
                ukernel.poll([(server, ukernel.EV_READABLE)], timeout=60)


    def eof(sock):
        sock.setblocking(True)
        sock.settimeout(60)
        return sock.recv(100) == b""


    def main():
        ukernel.cap_acquire("LOG", "NET", "IPC")
        c = ukernel.client()
        server = c.net_socket(direct=True)
        c.net_bind(server, "127.0.0.1", 0)
        c.net_listen(server, 8)

        # Closing the handle revokes the descriptor the worker still holds: both ends see it at once.
        a, b = pair(c, server)
        c.handle_close(b.handle)
        assert eof(a), "the peer did not see the end of the stream"
        try:
            b.send(b"after revocation")
            raise AssertionError("a revoked descriptor still sends")
        except BrokenPipeError:
            ukernel.info("revoked by handle_close: peer saw EOF, send EPIPE")
        b.detach()  # its handle is gone already
        a.close()

        # A granted handle stays in its task.
        a, b = pair(c, server)
        ch, _ = ukernel.ipc_channel_create()
        try:
            ukernel.ipc_send(ch, b"take it", [b.handle])
            raise AssertionError("a granted handle moved")
        except ukernel.BusyError as e:
            ukernel.info("ipc_send of a granted handle: %s" % e.status)
        a.close()
        b.close()

        # Granted sockets count in limits.handles: server + channel pair = 3, so at most 13 more fit under 16 (fewer:
        # the connections the kernel accepted ahead into this task's listener count too).
        held = []
        try:
            while True:
                held.append(c.connect_direct("127.0.0.1", c.net_addr(server)[1]))
                assert len(held) <= 13, "more sockets than limits.handles"
        except ukernel.LimitError as e:
            ukernel.info("LimitError after %d granted sockets: %s" % (len(held), e.status))
        assert held, "not one granted socket fitted"
        for s in held:
            s.close()
        # Their pending connections count for the listener's owner too: take them, then let them go.
        taken = 0
        while taken < len(held):
            try:
                c.net_accept(server)[0].close()
                taken += 1
            except BlockingIOError:
                ukernel.poll([(server, ukernel.EV_READABLE)], timeout=60)

        # Dropping NET revokes every granted socket of the task.
        a, b = pair(c, server)
        ukernel.cap_drop("NET")
        assert eof(a) and eof(b), "a granted socket outlived cap_drop(NET)"
        ukernel.info("cap_drop NET revoked both ends")
        return 0
    """


def test_granted_sockets_are_counted_kept_and_revoked(tmp_path):
    app = write_app(tmp_path / "app", MANIFEST.replace('grant = ["LOG", "NET"]', 'grant = ["LOG", "NET", "IPC"]')
                    + "    [limits]\n    handles = 16\n", AUTHORITY)
    status, log, explain = run_app(app, "--debug")
    assert status == 0, explain
    for needle in ("revoked by handle_close: peer saw EOF, send EPIPE", "ipc_send of a granted handle: ERR_BUSY",
                   "granted sockets: ERR_LIMIT", "limits.handles=16", "cap_drop NET revoked both ends",
                   "closed: the kernel shut down the granted descriptor",
                   "granted socket(s) shut down (NET is no longer active)"):
        assert needle in log, "%r not in the console log\n%s" % (needle, explain)


BATCH = """
    import socket

    import ukernel
    from ukernel._calls import result, spec


    def main():
        ukernel.cap_acquire("LOG", "NET")
        c = ukernel.client()
        server = c.net_socket(direct=True)
        c.net_bind(server, "127.0.0.1", 0)
        c.net_listen(server, 8)
        port = c.net_addr(server)[1]
        clients = [c.connect_direct("127.0.0.1", port) for _ in range(4)]
        accept = spec("net_accept")
        granted = []
        while len(granted) < 4:
            # Several accepts in one write: the replies come back in one batch, each descriptor cut to its reply.
            seqs = c.submit([(accept, (server,))] * (4 - len(granted)))
            for reply in c.collect_all(seqs):
                if reply[1] == ukernel._abi.ERR_WOULDBLOCK:
                    continue
                handle, host, peer_port = result(accept, reply[:3], (server,))
                granted.append((handle, peer_port, socket.socket(fileno=reply[3])))
            if len(granted) < 4:
                ukernel.poll([(server, ukernel.EV_READABLE)], timeout=60)
        by_port = {s.getsockname()[1]: s for s in clients}
        for handle, peer_port, sock in granted:
            assert sock.getpeername()[1] == peer_port, (sock, peer_port)  # the descriptor of this reply
            assert c.net_addr(handle, ukernel.NET_ADDR_PEER)[1] == peer_port
            sock.sendall(b"to %d" % peer_port)
            mine = by_port.pop(peer_port)
            mine.setblocking(True)
            assert mine.recv(100) == b"to %d" % peer_port
            sock.close()
            c.handle_close(handle)
            mine.close()
        assert not by_port
        ukernel.info("batched accepts ok: %d descriptors, each with its reply" % len(granted))
        return 0
    """


def test_accepts_in_one_batch_each_get_their_own_descriptor(tmp_path):
    app = write_app(tmp_path / "app", MANIFEST, BATCH)
    status, log, explain = run_app(app)
    assert status == 0, explain
    assert "batched accepts ok: 4 descriptors, each with its reply" in log, explain
