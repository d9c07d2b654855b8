"""Attack class: sockets the supervisor made, hidden from it in flight (docs/confinement.md, "Sockets the worker
makes").

Under a root kernel the supervisor keeps no reference of its own to the sockets it puts in a worker's hands: it
finds them again in the worker's descriptor table (``/proc/<pid>/fd``), both to count them against
``limits.handles`` and to shut them down when ``NET`` is dropped. A descriptor sent over a ``socketpair`` of the
worker's own (``SCM_RIGHTS``) and closed is in no descriptor table while it waits in the pair's queue, yet it stays a
live connection that ``recvmsg`` hands back:

* **handles**: connect, park the socket in flight, close it, repeat (``limits.handles = 16``, 40 connections);
* **NET dropped**: connect, send ``before``, park it in flight, ``cap_drop("NET")``, take it back and send ``after``;
* **listen after the drop**: a socket bound while ``NET`` was held made a listener after ``cap_drop("NET")`` (a host
  client connects to it unless ``listen`` is refused).

Each is shown succeeding with ``--insecure-no-sandbox`` (the host listener gets 40 connections; it reads
``before after``), and the confined run is checked on the host side: what the listener accepted and read. Both
succeeded confined too before the supervisor looked past the descriptor table (the count keeps a socket the
kernel's ``/proc/net/tcp`` still lists; revocation destroys the rest by identity with ``SOCK_DESTROY``).
"""

import os
import select
import socket

import pytest

from _harness import Running, host_can_confine, make_app, run_app
from test_redteam_usernotif import drain, listener

needs_notify = pytest.mark.skipif(host_can_confine() is not None or os.geteuid() != 0,
                                  reason="the notify variant is used under a root kernel on a host that confines (%s)"
                                         % (host_can_confine() or "not root"))

MANIFEST = """\
name = "attacker"
entry = "src/main.py"

[caps]
grant = ["LOG", "NET"]

[caps.net]
connect = ["127.0.0.1:{allowed}"]
bind = ["127.0.0.1:*"]

[limits]
handles = 16
"""

MAIN = """\
import errno, os, socket, threading
import ukernel

ALLOWED = int(os.environ["ALLOWED"])


def park(pair, s):
    socket.send_fds(pair[0], [b"x"], [s.fileno()])
    s.close()


def take(pair):
    _, fds, _, _ = socket.recv_fds(pair[1], 1, 1)
    return socket.socket(fileno=fds[0])


def handles(n=40):
    pair = socket.socketpair()
    connected, errors = 0, {}
    for _ in range(n):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", ALLOWED))
            connected += 1
            park(pair, s)
        except OSError as e:
            errors[errno.errorcode.get(e.errno)] = errors.get(errno.errorcode.get(e.errno), 0) + 1
            s.close()
    for _ in range(connected):
        take(pair).close()
    return "connected %d %s" % (connected, " ".join("%s=%d" % kv for kv in sorted(errors.items())))


def revoke():
    pair = socket.socketpair()
    s = socket.socket()
    s.connect(("127.0.0.1", ALLOWED))
    s.sendall(b"before ")
    park(pair, s)
    ukernel.cap_drop("NET")
    s = take(pair)
    try:
        s.sendall(b"after")
        out = "send ok"
    except OSError as e:
        out = "send " + errno.errorcode.get(e.errno)
    s.close()
    return out


def main():
    ukernel.cap_acquire("LOG", "NET")
    which = os.environ["ATTACK"]
    if which == "relisten":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        ukernel.cap_drop("NET")
        try:
            s.listen(8)
            out = "listen ok"
        except OSError as e:
            out = "listen " + errno.errorcode.get(e.errno)
        ukernel.info("relisten %d %s" % (s.getsockname()[1], out))
        threading.Event().wait()  # the test stops the kernel
    ukernel.info("attack %s: %s" % (which, {"handles": handles, "revoke": revoke}[which]()))
"""


def attack(tmp_path, which, *flags, received=None):
    allowed = listener()
    try:
        app = make_app(tmp_path / ("app-" + which + "-".join(flags)), MAIN,
                       MANIFEST.format(allowed=allowed.getsockname()[1]))
        run = run_app(app, *flags, env=["ALLOWED=%d" % allowed.getsockname()[1], "ATTACK=" + which])
        assert run.status == 0, run.explain()
        line = [t for t in run.texts("main") if t.startswith("attack %s: " % which)]
        assert line, run.explain()
        return line[0].split(": ", 1)[1], drain(allowed, received), run
    finally:
        allowed.close()


@needs_notify
def test_sockets_parked_in_flight_still_count_against_the_handle_limit(tmp_path):
    out, to_allowed, run = attack(tmp_path, "handles", "--insecure-no-sandbox")
    assert out.startswith("connected 40") and to_allowed == 40, (out, run.explain())
    out, to_allowed, run = attack(tmp_path, "handles")
    connected = int(out.split()[1])
    assert 1 <= connected <= 16 and to_allowed == connected, (out, run.explain())


def drain_until_reset(s):
    """What each queued connection sent until its end or its reset."""
    got = []
    while select.select([s], [], [], 0)[0]:
        try:
            c, _ = s.accept()
        except BlockingIOError:
            break
        c.setblocking(True)
        data = b""
        try:
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            data += b"<reset>"
        got.append(data)
        c.close()
    return got


@needs_notify
def test_dropping_net_destroys_a_socket_parked_in_flight(tmp_path):
    out, _, run = attack(tmp_path, "revoke", "--insecure-no-sandbox", received=[])
    assert out == "send ok", (out, run.explain())
    allowed = listener()
    try:
        app = make_app(tmp_path / "app-revoke", MAIN, MANIFEST.format(allowed=allowed.getsockname()[1]))
        run = run_app(app, env=["ALLOWED=%d" % allowed.getsockname()[1], "ATTACK=revoke"])
        assert run.status == 0, run.explain()
        got = drain_until_reset(allowed)
    finally:
        allowed.close()
    out = [t for t in run.texts("main") if t.startswith("attack revoke: ")]
    # the host's peer never reads what came after the drop: Linux aborted the connection (a reset)
    assert got == [b"before <reset>"], (out, got, run.explain())
    assert out == ["attack revoke: send ECONNABORTED"], (out, run.explain())
    assert any("1 socket(s) the worker made itself shut down" in t for t in run.texts()), run.explain()


def relisten(tmp_path, *flags):
    """A socket bound while NET was held, made a listener after ``cap_drop("NET")``: does a host client connect?"""
    app = make_app(tmp_path / ("app-relisten" + "-".join(flags)), MAIN, MANIFEST.format(allowed=1))
    with Running(app, *flags, env=["ALLOWED=1", "ATTACK=relisten"]) as run:
        line = run.wait_for(lambda l: (l.get("msg") or "").startswith("relisten "))
        _, port, out = line["msg"].split(" ", 2)
        c = socket.socket()
        try:
            c.connect(("127.0.0.1", int(port)))
            reached = True
        except ConnectionRefusedError:
            reached = False
        finally:
            c.close()
        return out, reached, run


@needs_notify
def test_a_socket_bound_before_net_was_dropped_cannot_listen_after(tmp_path):
    out, reached, run = relisten(tmp_path, "--insecure-no-sandbox")
    assert out == "listen ok" and reached, (out, run.explain())
    out, reached, run = relisten(tmp_path)
    assert not reached, (out, run.explain())  # the host's client is refused: nothing listens
    assert out == "listen EPERM", (out, run.explain())
