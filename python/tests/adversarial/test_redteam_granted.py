"""Attack class: a granted socket (ABI 1.1) turned into authority it was not given.

A worker allowed to reach one loopback port (``net.connect``) gets the host descriptor of its connection there
(``Client.connect_direct``) and tries to make it reach another port the policy does not grant, which the test
listens on: ``connect(AF_UNSPEC)`` to disconnect it then ``connect`` elsewhere, or ``bind`` it to another address;
``listen`` (which Linux refuses on a once-connected socket anyway: ``EINVAL``); ``sendmsg(MSG_FASTOPEN)`` and ``sendto`` with the other address;
``SO_BINDTODEVICE`` and ``TCP_FASTOPEN_CONNECT``. Each is shown to work with ``--insecure-no-sandbox`` (the other
listener gets a connection, the socket is rebound, the options are set) and to fail confined, where the host-side
listener sees nothing. ``sendmsg`` with the other address in ``msg_name`` (which the filter cannot read) is shown
harmless both ways: the bytes reach the real peer only (docs/confinement.md, "Granted sockets").
"""

import select
import socket
import threading

import pytest

from _harness import host_can_confine, make_app, run_app

MANIFEST = """\
name = "attacker"
entry = "src/main.py"

[caps]
grant = ["LOG", "NET"]

[caps.net]
connect = ["127.0.0.1:{granted}"]
"""

MAIN = """\
import ctypes, errno, os, select, socket
import ukernel

LIBC = ctypes.CDLL(None, use_errno=True)
GRANTED, OTHER = (int(os.environ[k]) for k in ("GRANTED_PORT", "OTHER_PORT"))
MSG_FASTOPEN, TCP_FASTOPEN_CONNECT = 0x20000000, 30


def report(name, outcome):
    ukernel.info("attempt %s: %s" % (name, outcome))


def attempt(name, fn):
    try:
        fn()
    except OSError as e:
        report(name, errno.errorcode.get(e.errno, str(e.errno)))
        return False
    report(name, "ok")
    return True


def disconnect(s):
    unspec = ctypes.create_string_buffer(16)  # struct sockaddr with sa_family AF_UNSPEC (0)
    if LIBC.connect(s.fileno(), unspec, 16) != 0:
        raise OSError(ctypes.get_errno(), "connect(AF_UNSPEC)")


def connect_other(s):
    try:
        s.connect(("127.0.0.1", OTHER))
    except BlockingIOError:
        select.select([], [s], [], 60)
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, "connect")


def main():
    ukernel.cap_acquire("LOG", "NET")
    c = ukernel.client()
    fresh = lambda: c.connect_direct("127.0.0.1", GRANTED)

    s = fresh()
    if attempt("disconnect", lambda: disconnect(s)):
        attempt("connect other", lambda: connect_other(s))
    s.close()

    s = fresh()
    attempt("listen", lambda: s.listen(1))  # Linux refuses a once-connected socket (EINVAL); the filter first
    attempt("bind connected", lambda: s.bind(("127.0.0.1", 0)))  # EINVAL unconfined: disconnect first
    if attempt("disconnect for bind", lambda: disconnect(s)):
        attempt("bind", lambda: s.bind(("127.0.0.2", 0)))
    s.close()

    s = fresh()
    attempt("sendmsg MSG_FASTOPEN", lambda: s.sendmsg([b"fast open"], [], MSG_FASTOPEN, ("127.0.0.1", OTHER)))
    attempt("sendto address", lambda: s.sendto(b"sendto", ("127.0.0.1", OTHER)))
    s.close()

    s = fresh()
    if attempt("disconnect for fast open", lambda: disconnect(s)):
        attempt("fast open other", lambda: s.sendmsg([b"fast open"], [], MSG_FASTOPEN, ("127.0.0.1", OTHER)))
        select.select([], [s], [], 60)
    s.close()

    s = fresh()
    attempt("disconnect for options", lambda: disconnect(s))
    attempt("TCP_FASTOPEN_CONNECT", lambda: s.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1))
    s.close()

    s = fresh()
    attempt("SO_BINDTODEVICE", lambda: s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo"))
    attempt("TCP_NODELAY", lambda: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1))
    attempt("msg_name", lambda: s.sendmsg([b"via msg_name"], [], 0, ("127.0.0.1", OTHER)))
    s.close()
    return 0
"""


class Host:
    """The test's side: the granted peer (accepts, reads everything) and the other listener (must see nothing
    confined)."""

    def __init__(self):
        self.granted = socket.create_server(("127.0.0.1", 0))
        self.other = socket.create_server(("127.0.0.1", 0))
        self.received = []
        self.other_connections = 0
        self.done = threading.Event()
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._serve, self._watch)]
        for t in self.threads:
            t.start()

    def _serve(self):
        conns = []
        while not self.done.is_set():
            r, _, _ = select.select([self.granted] + conns, [], [], 0.2)
            for s in r:
                if s is self.granted:
                    conns.append(self.granted.accept()[0])
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if data:
                    self.received.append(data)
                else:
                    conns.remove(s)
                    s.close()

    def _watch(self):
        while not self.done.is_set():
            if select.select([self.other], [], [], 0.2)[0]:
                conn, _ = self.other.accept()
                self.other_connections += 1
                conn.close()

    def finish(self):
        self.done.set()
        for t in self.threads:
            t.join(30)
        # A connection that completed while the run ended still waits in the other listener's queue.
        self.other.setblocking(False)
        while True:
            try:
                self.other.accept()[0].close()
                self.other_connections += 1
            except BlockingIOError:
                break
        self.granted.close()
        self.other.close()


def attack(tmp_path, *flags):
    host = Host()
    try:
        manifest = MANIFEST.format(granted=host.granted.getsockname()[1])
        app = make_app(tmp_path / "app", MAIN, manifest=manifest)
        env = ("GRANTED_PORT=%d" % host.granted.getsockname()[1], "OTHER_PORT=%d" % host.other.getsockname()[1])
        run = run_app(app, *flags, env=env)
    finally:
        host.finish()
    outcomes = {}
    for t in run.texts():
        if t.startswith("attempt "):
            name, outcome = t[len("attempt "):].split(": ", 1)
            outcomes.setdefault(name, []).append(outcome)
    assert run.status == 0, run.explain()
    return host, outcomes, run


def test_insecure_worker_re_aims_a_granted_socket(tmp_path):
    host, out, run = attack(tmp_path, "--insecure-no-sandbox")
    assert out["disconnect"] == ["ok"] and out["connect other"] == ["ok"], (out, run.explain())
    assert out["listen"] == ["EINVAL"] and out["bind connected"] == ["EINVAL"], out
    assert out["disconnect for bind"] == ["ok"] and out["bind"] == ["ok"], out
    # Without a Fast Open cookie the send starts the handshake (EINPROGRESS): the connect happened all the same
    assert out["disconnect for fast open"] == ["ok"] and out["fast open other"][0] in ("ok", "EINPROGRESS"), out
    assert host.other_connections >= 2, (host.other_connections, out)  # connect, and the fast-open send
    # On the connected socket these only reach the real peer (or EISCONN); the disconnected variant above is the attack
    assert out["sendmsg MSG_FASTOPEN"][0] in ("ok", "EISCONN") and out["sendto address"][0] in ("ok", "EISCONN"), out
    assert out["disconnect for options"] == ["ok"], out
    assert out["SO_BINDTODEVICE"] == ["ok"] and out["TCP_FASTOPEN_CONNECT"] == ["ok"], out
    assert out["TCP_NODELAY"] == ["ok"] and out["msg_name"] == ["ok"], out
    assert b"via msg_name" in b"".join(host.received), host.received  # msg_name ignored: the real peer got it


def test_confined_worker_keeps_a_granted_socket_to_its_peer(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    host, out, run = attack(tmp_path)
    for name in ("disconnect", "disconnect for bind", "disconnect for fast open", "disconnect for options",
                 "bind connected", "listen", "sendmsg MSG_FASTOPEN", "sendto address", "SO_BINDTODEVICE",
                 "TCP_FASTOPEN_CONNECT"):
        assert out[name] == ["EPERM"], (name, out, run.explain())
    assert "connect other" not in out and "fast open other" not in out, out
    assert "bind" not in out, out
    assert host.other_connections == 0
    assert out["TCP_NODELAY"] == ["ok"] and out["msg_name"] == ["ok"], out  # what asyncio needs still works
    assert b"via msg_name" in b"".join(host.received), host.received
