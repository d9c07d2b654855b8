"""Attack class: the seccomp user-notification supervisor (docs/confinement.md, "Sockets the worker makes").

A root kernel lets a confined worker make TCP sockets itself and decides their ``connect``/``bind``/``listen``/
``accept`` (the filter's notify variant). The worker may connect to one loopback port (``ALLOWED``) and tries to
reach another one the test listens on (``FORBIDDEN``):

* **check-then-use race**: a second thread rewrites the ``sockaddr`` between the allowed and the forbidden port
  while ``connect`` waits in the supervisor (half the attempts start on the forbidden one);
* **re-pointing a socket the kernel made**: after the allowed connect, ``connect`` again, ``connect(AF_UNSPEC)``
  then ``connect``, ``bind`` and ``listen`` on it;
* **exhausting handles** through many sockets (``limits.handles = 16``);
* **NET dropped**: the same socket used after ``cap_drop("NET")``;
* **a notification left pending while the task ends**: a blocking ``connect`` the host cannot complete (a full
  accept queue), then the worker is killed: the kernel must close what it held for it.

Each is shown to succeed with ``--insecure-no-sandbox`` (the forbidden listener gets connections, every socket
connects) and to fail confined, read from the host side: what the listeners accepted and the kernel's own sockets.
The pending-notification case has no unconfined half (without the sandbox there is no supervisor to leak): it is
checked on the kernel's descriptors and threads.
"""

import os
import re
import select
import signal
import socket
import time

import pytest

from _harness import Running, host_can_confine, make_app, run_app

needs_notify = pytest.mark.skipif(host_can_confine() is not None or os.geteuid() != 0,
                                  reason="the notify variant is used under a root kernel on a host that confines (%s)"
                                         % (host_can_confine() or "not root"))

MANIFEST = """\
name = "attacker"
entry = "src/main.py"

[caps]
grant = ["LOG", "NET", "TASK"]

[caps.net]
connect = ["127.0.0.1:{allowed}"]

[limits]
handles = 16

[[task]]
name = "victim"
entry = "src/victim.py"
"""

MAIN = """\
import ctypes, errno, os, socket, struct, threading
import ukernel

LIBC = ctypes.CDLL(None, use_errno=True)
ALLOWED, FORBIDDEN = int(os.environ["ALLOWED"]), int(os.environ["FORBIDDEN"])


def sockaddr(port, family=socket.AF_INET):
    return struct.pack("<H", family) + struct.pack(">H", port) + socket.inet_aton("127.0.0.1") + bytes(8)


def raw_connect(fd, buf):
    if LIBC.connect(fd, buf, 16) != 0:
        return errno.errorcode.get(ctypes.get_errno(), "?")
    return "ok"


def race(rounds=60):
    buf = ctypes.create_string_buffer(16)
    allowed, forbidden = sockaddr(ALLOWED), sockaddr(FORBIDDEN)
    stop = threading.Event()
    def flip():
        while not stop.is_set():
            ctypes.memmove(buf, forbidden, 16)
            ctypes.memmove(buf, allowed, 16)
    outcomes = {}
    t = threading.Thread(target=flip)
    for i in range(rounds):
        if i == rounds // 2:
            t.start()  # first half: the address is fixed (allowed on even rounds, forbidden on odd ones)
        elif i < rounds // 2:
            ctypes.memmove(buf, forbidden if i % 2 else allowed, 16)
        s = socket.socket()
        r = raw_connect(s.fileno(), buf)
        outcomes[r] = outcomes.get(r, 0) + 1
        s.close()
    stop.set()
    t.join()
    return " ".join("%s=%d" % kv for kv in sorted(outcomes.items()))


def repoint():
    out = []
    s = socket.socket()
    s.connect(("127.0.0.1", ALLOWED))
    out.append("again " + raw_connect(s.fileno(), ctypes.create_string_buffer(sockaddr(FORBIDDEN), 16)))
    out.append("unspec " + raw_connect(s.fileno(), ctypes.create_string_buffer(sockaddr(0, 0), 16)))
    out.append("after " + raw_connect(s.fileno(), ctypes.create_string_buffer(sockaddr(FORBIDDEN), 16)))
    for name, fn in (("bind", lambda: s.bind(("127.0.0.1", FORBIDDEN))), ("listen", lambda: s.listen(1))):
        try:
            fn()
            out.append(name + " ok")
        except OSError as e:
            out.append("%s %s" % (name, errno.errorcode.get(e.errno)))
    s.close()
    return ", ".join(out)


def exhaust(n=40):
    held, errors = [], {}
    for _ in range(n):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", ALLOWED))
            held.append(s)
        except OSError as e:
            errors[errno.errorcode.get(e.errno)] = errors.get(errno.errorcode.get(e.errno), 0) + 1
            s.close()
    for s in held:
        s.close()
    return "connected %d %s" % (len(held), " ".join("%s=%d" % kv for kv in sorted(errors.items())))


def revoke():
    s = socket.socket()
    s.connect(("127.0.0.1", ALLOWED))
    s.sendall(b"before ")
    ukernel.cap_drop("NET")
    out = []
    try:
        s.sendall(b"after")
        out.append("send ok")
    except OSError as e:
        out.append("send " + errno.errorcode.get(e.errno))
    try:
        out.append("recv %r" % s.recv(10, socket.MSG_DONTWAIT))
    except OSError as e:
        out.append("recv " + errno.errorcode.get(e.errno))
    t = socket.socket()
    try:
        t.connect(("127.0.0.1", ALLOWED))
        out.append("new ok")
    except OSError as e:
        out.append("new " + errno.errorcode.get(e.errno))
    s.close()
    t.close()
    return ", ".join(out)


def main():
    ukernel.cap_acquire("LOG", "TASK", "NET")
    which = os.environ["ATTACK"]
    if which == "pending":
        ukernel.task_spawn("victim", ["LOG", "NET"])
        ukernel.info("victim spawned")
        threading.Event().wait()  # the test stops the kernel
    ukernel.info("attack %s: %s" % (which, {"race": race, "repoint": repoint, "exhaust": exhaust,
                                                      "revoke": revoke}[which]()))
"""

VICTIM = """\
import os, socket, threading
import ukernel

def main():
    ukernel.cap_acquire("LOG")
    s = socket.socket()
    ukernel.info("victim connecting")
    s.connect(("127.0.0.1", int(os.environ["ALLOWED"])))  # never completes: the accept queue is full
    ukernel.info("victim connected")
"""


def listener(backlog=128):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    s.setblocking(False)
    return s


def drain(s, received=None):
    """Accepts everything queued; returns how many connections there were (what each sent, until its end, in
    ``received``)."""
    n = 0
    while select.select([s], [], [], 0)[0]:
        try:
            c, _ = s.accept()
        except BlockingIOError:
            break
        if received is not None:
            c.setblocking(True)
            data = b""
            while True:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            received.append(data)
        c.close()
        n += 1
    return n


def attack(tmp_path, which, *flags, received=None):
    allowed, forbidden = listener(), listener()
    try:
        app = make_app(tmp_path / ("app-" + which + "-".join(flags)), MAIN,
                       MANIFEST.format(allowed=allowed.getsockname()[1]), files={"src/victim.py": VICTIM})
        run = run_app(app, *flags, env=["ALLOWED=%d" % allowed.getsockname()[1],
                                        "FORBIDDEN=%d" % forbidden.getsockname()[1], "ATTACK=" + which])
        assert run.status == 0, run.explain()
        line = [t for t in run.texts("main") if t.startswith("attack %s: " % which)]
        assert line, run.explain()
        return line[0].split(": ", 1)[1], drain(allowed, received), drain(forbidden), run
    finally:
        allowed.close()
        forbidden.close()


def counts(text):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", text)}


@needs_notify
def test_rewriting_the_address_while_connect_waits_never_reaches_the_forbidden_port(tmp_path):
    out, to_allowed, to_forbidden, run = attack(tmp_path, "race", "--insecure-no-sandbox")
    assert to_forbidden >= 15, (out, run.explain())  # unconfined: every odd round of the first half at least
    out, to_allowed, to_forbidden, run = attack(tmp_path, "race")
    assert to_forbidden == 0, (out, run.explain())
    c = counts(out)
    assert c.get("ok", 0) == to_allowed and c.get("ok", 0) >= 15, (out, run.explain())  # every even round
    assert c.get("EPERM", 0) >= 15 and set(c) <= {"ok", "EPERM"}, (out, run.explain())


@needs_notify
def test_a_socket_the_kernel_connected_cannot_be_re_pointed(tmp_path):
    out, _, to_forbidden, run = attack(tmp_path, "repoint", "--insecure-no-sandbox")
    assert "unspec ok, after ok" in out and to_forbidden >= 1, (out, run.explain())
    out, to_allowed, to_forbidden, run = attack(tmp_path, "repoint")
    assert out == "again EPERM, unspec EPERM, after EPERM, bind EPERM, listen EPERM", (out, run.explain())
    assert to_forbidden == 0 and to_allowed == 1, (out, run.explain())


@needs_notify
def test_sockets_the_worker_makes_count_against_its_handle_limit(tmp_path):
    out, to_allowed, _, run = attack(tmp_path, "exhaust", "--insecure-no-sandbox")
    assert out.startswith("connected 40") and to_allowed == 40, (out, run.explain())
    out, to_allowed, _, run = attack(tmp_path, "exhaust")
    connected = int(out.split()[1])
    assert 1 <= connected <= 16 and to_allowed == connected, (out, run.explain())
    assert counts(out).get("EMFILE") == 40 - connected, (out, run.explain())
    assert any(t.startswith("connect(2) 127.0.0.1:") and "refused (EMFILE)" in t for t in run.texts()), \
        run.explain()


@needs_notify
def test_dropping_net_shuts_down_the_sockets_the_worker_made(tmp_path):
    got = []
    out, _, _, run = attack(tmp_path, "revoke", "--insecure-no-sandbox", received=got)
    assert out == "send ok, recv EAGAIN, new ok", (out, run.explain())
    assert got[0] == b"before after", (got, run.explain())
    got = []
    out, _, _, run = attack(tmp_path, "revoke", received=got)
    assert out == "send EPIPE, recv b'', new EPERM", (out, run.explain())
    assert got == [b"before "], (got, run.explain())  # the host's peer saw the connection end after the drop
    assert any("socket(s) the worker made itself shut down" in t for t in run.texts()), run.explain()


def _socket_inodes(pid):
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    return inodes


def _notify_threads(pid):
    names = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return sum(1 for n in names if n.startswith("ukernel-notify"))


def _syn_sent_to(port):
    """The inodes of the host's connections in SYN-SENT towards 127.0.0.1:port (/proc/net/tcp, state 02)."""
    found = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[2].endswith(":%04X" % port) and fields[3] == "02":
                found.add(int(fields[9]))
    return found


def _until(predicate, what, limit=60):
    deadline = time.monotonic() + limit  # bounds a hang only: each step waits on the host's state
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@needs_notify
def test_a_notification_left_pending_when_the_task_ends_leaks_nothing_in_the_kernel(tmp_path):
    full = listener(backlog=0)
    fillers = []
    port = full.getsockname()[1]
    try:
        for _ in range(2):  # a backlog of 0 holds one connection; the next SYN is dropped (retransmitted)
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", port))
            fillers.append(c)
        _until(lambda: _syn_sent_to(port), "the accept queue never filled")
        app = make_app(tmp_path / "app", MAIN, MANIFEST.format(allowed=port), files={"src/victim.py": VICTIM})
        with Running(app, env=["ALLOWED=%d" % port, "FORBIDDEN=1", "ATTACK=pending"]) as run:
            kernel = run.kernel_pid()
            run.wait_text("victim", "victim connecting")
            victim = run.worker_pid("victim")
            # The kernel's own socket is in SYN-SENT while the victim's connect is parked in its supervisor.
            _until(lambda: _notify_threads(kernel) == 2, "no supervisor per worker")
            _until(lambda: _syn_sent_to(port) & _socket_inodes(kernel), "the kernel never started the connect")
            os.kill(victim, signal.SIGKILL)
            run.wait_for(lambda l: "task victim#" in (l.get("msg") or "") and "exited" in (l.get("msg") or ""))
            _until(lambda: _notify_threads(kernel) == 1, "the victim's supervisor thread is still running")
            assert not _syn_sent_to(port) & _socket_inodes(kernel), "the parked connect's socket is still open"
            assert "victim connected" not in run.texts("victim")
    finally:
        for c in fillers:
            c.close()
        full.close()
