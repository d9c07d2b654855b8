"""Attack class: host-wide IPC objects a worker can reach by key or by path, around Landlock and around the kernel
ABI: a System V shared-memory segment of another process (found by its key, attached and overwritten), a System V
message queue (created: it outlives the worker and the kernel), and a host datagram socket bound to a path
(reached with ``socketpair(AF_UNIX, SOCK_DGRAM)`` + ``sendto(path)``).

The test makes the host objects itself (the segment with known bytes, the bound socket) and checks them from
outside after the run: the segment's bytes, ``/proc/sysvipc/msg``, what the socket received. The seccomp
allow-list stops all three (``shmget``/``shmat``/``msgget`` are not listed; ``socketpair`` is AF_UNIX +
SOCK_STREAM only; ``sendto`` only without an address)."""

import ctypes
import os
import random
import socket

import pytest

from _harness import host_can_confine, make_app, run_app

MAIN = """\
import ctypes, errno, os, socket
import ukernel

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.shmat.restype = ctypes.c_void_p
LIBC.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
IPC_CREAT, IPC_PRIVATE = 0o1000, 0

def attempt(name, fn):
    ctypes.set_errno(0)
    try:
        r = fn()
    except OSError as e:
        ukernel.info("attempt %s: %s" % (name, errno.errorcode.get(e.errno, str(e.errno))))
        return None
    err = ctypes.get_errno()
    failed = r is None or (isinstance(r, int) and r < 0) or r == ctypes.c_void_p(-1).value
    ukernel.info("attempt %s: %s" % (name, errno.errorcode.get(err, str(err)) if failed else "ok"))
    return None if failed else r

def main():
    ukernel.cap_acquire("LOG")
    shmid = attempt("shmget", lambda: LIBC.shmget(int(os.environ["SHM_KEY"]), 0, 0))
    if shmid is not None:
        addr = attempt("shmat", lambda: LIBC.shmat(shmid, None, 0))
        if addr is not None:
            ctypes.memmove(addr, b"OVERWRITTEN BY A WORKER", 23)
    attempt("msgget", lambda: LIBC.msgget(IPC_PRIVATE, IPC_CREAT | 0o600))
    path = os.environ["HOST_SOCKET"]
    def dgram():
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        return a.sendto(b"escaped by datagram", path)
    attempt("socketpair dgram + sendto", dgram)
    def stream():
        a, b = socket.socketpair()  # allowed: an anonymous stream pair (asyncio's self-pipe)
        return a.sendto(b"escaped by stream", path)
    attempt("socketpair stream + sendto", stream)
    return 0
"""

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.shmat.restype = ctypes.c_void_p
LIBC.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
LIBC.shmdt.argtypes = [ctypes.c_void_p]
IPC_CREAT, IPC_EXCL, IPC_RMID = 0o1000, 0o2000, 0
CONTENT = b"host segment: must stay as the host wrote it"


class Segment:
    """A System V shared-memory segment owned by this (root) process, with known bytes."""

    def __init__(self):
        for _ in range(20):
            self.key = random.randrange(1 << 20, 1 << 30)
            self.id = LIBC.shmget(self.key, 4096, IPC_CREAT | IPC_EXCL | 0o600)
            if self.id >= 0:
                break
        else:
            pytest.skip("cannot create a System V segment here (errno %d)" % ctypes.get_errno())
        self.addr = LIBC.shmat(self.id, None, 0)
        assert self.addr not in (None, ctypes.c_void_p(-1).value)
        ctypes.memmove(self.addr, CONTENT, len(CONTENT))

    def content(self):
        return ctypes.string_at(self.addr, len(CONTENT))

    def remove(self):
        LIBC.shmdt(self.addr)
        LIBC.shmctl(self.id, IPC_RMID, None)


def message_queues():
    try:
        with open("/proc/sysvipc/msg") as f:
            return {int(line.split()[1]) for line in f.read().splitlines()[1:] if line.strip()}
    except OSError:
        pytest.skip("no /proc/sysvipc/msg")


def host_socket(tmp_path):
    d = tmp_path / "host"
    d.mkdir()
    os.chmod(d, 0o777)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(d / "dgram.sock"))
    os.chmod(d / "dgram.sock", 0o777)
    s.setblocking(False)
    return s


def received(sock):
    """What reached the host socket; the run is over, so anything sent is queued by now."""
    out = []
    while True:
        try:
            out.append(sock.recv(1000))
        except BlockingIOError:
            return out


def attack(tmp_path, *flags):
    segment, sock, queues = Segment(), host_socket(tmp_path), message_queues()
    try:
        run = run_app(make_app(tmp_path / "app", MAIN), *flags,
                      env=["SHM_KEY=%d" % segment.key, "HOST_SOCKET=%s" % sock.getsockname()])
        new_queues = message_queues() - queues
        outcome = {t.split(": ", 1)[0][len("attempt "):]: t.split(": ", 1)[1]
                   for t in run.texts("main") if t.startswith("attempt ")}
        return run, outcome, segment.content(), new_queues, received(sock)
    finally:
        segment.remove()
        sock.close()


def remove_queues(ids):
    for q in ids:
        LIBC.msgctl(q, IPC_RMID, None)


def test_insecure_worker_reaches_host_ipc(tmp_path):
    run, outcome, content, new_queues, got = attack(tmp_path, "--insecure-no-sandbox")
    try:
        assert run.status == 0, run.explain()
        assert content.startswith(b"OVERWRITTEN BY A WORKER"), (outcome, run.explain())
        assert new_queues, "the worker's message queue must be on the host (else this test proves nothing)"
        assert got == [b"escaped by datagram"], (got, outcome)
        assert outcome["socketpair stream + sendto"] == "EISCONN", outcome  # a connected stream ignores no address
    finally:
        remove_queues(new_queues)


def test_strict_worker_cannot_reach_host_ipc(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    run, outcome, content, new_queues, got = attack(tmp_path)
    try:
        assert run.status == 0, run.explain()
        assert content == CONTENT, run.explain()
        assert not new_queues, "a queue was created on the host: %s" % new_queues
        assert got == [], got
        assert outcome == {"shmget": "EPERM", "msgget": "EPERM", "socketpair dgram + sendto": "EPERM",
                           "socketpair stream + sendto": "EPERM"}, run.explain()
    finally:
        remove_queues(new_queues)
