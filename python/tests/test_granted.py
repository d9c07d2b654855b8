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
    status, log, explain = run_app(app)
    assert status == 0, explain
    for needle in ("granted round trip ok: pong:500000", "net_send on a granted socket: ERR_BUSY",
                   "net_recv on a granted socket: ERR_BUSY", "net_connect: socket", "net_accept: socket"):
        assert needle in log, "%r not in the console log\n%s" % (needle, explain)
