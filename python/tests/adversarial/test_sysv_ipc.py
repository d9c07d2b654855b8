"""Attack class: host SysV IPC. Shared memory segments, semaphores and message queues are named by keys that are
global to an IPC namespace, and checked only against uid/gid and mode: a worker running as root on the host's IPC
namespace could attach any segment and write into it. The test creates a segment on the host and checks its bytes
from outside after the attempt."""

import ctypes
import os
import random

import pytest

from _harness import host_can_confine, make_app, run_app

IPC_CREAT = 0o1000
IPC_RMID = 0
SIZE = 4096

MAIN = """\
import ctypes, errno, os
import ukernel

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.shmat.restype = ctypes.c_void_p

def main():
    ukernel.cap_acquire("LOG")
    key = int(os.environ["SHM_KEY"])
    ctypes.set_errno(0)
    shmid = LIBC.shmget(key, 0, 0)
    if shmid < 0:
        ukernel.info("attempt shmget: %s" % errno.errorcode.get(ctypes.get_errno()))
        return 0
    addr = LIBC.shmat(shmid, None, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        ukernel.info("attempt shmat: %s" % errno.errorcode.get(ctypes.get_errno()))
        return 0
    ctypes.memmove(addr, b"pwned", 5)
    ukernel.info("attempt shm write: ok")
    return 0
"""


class Segment:
    """A SysV shared memory segment on the host, mode 0600 (its owner only), removed on exit."""

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.shmat.restype = ctypes.c_void_p
        self.key = random.randrange(1 << 20, 1 << 30)
        self.id = self.libc.shmget(self.key, SIZE, IPC_CREAT | 0o600)
        assert self.id >= 0, os.strerror(ctypes.get_errno())
        self.addr = self.libc.shmat(self.id, None, 0)
        ctypes.memmove(self.addr, b"host!", 5)

    def head(self):
        return ctypes.string_at(self.addr, 5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.libc.shmdt(ctypes.c_void_p(self.addr))
        self.libc.shmctl(self.id, IPC_RMID, None)


def test_insecure_worker_writes_a_host_segment(tmp_path):
    with Segment() as seg:
        run = run_app(make_app(tmp_path / "app", MAIN), "--insecure-no-sandbox", env=["SHM_KEY=%d" % seg.key])
        assert run.status == 0, run.explain()
        assert "attempt shm write: ok" in run.texts("main"), run.explain()
        assert seg.head() == b"pwned", "without the sandbox the attack must work"


def test_strict_worker_cannot_reach_host_segments(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    with Segment() as seg:
        run = run_app(make_app(tmp_path / "app", MAIN), env=["SHM_KEY=%d" % seg.key])
        assert run.status == 0, run.explain()
        assert seg.head() == b"host!", run.explain()
        got = [t for t in run.texts("main") if t.startswith("attempt")]
        # Two walls: the seccomp allow-list refuses shmget (EPERM, checked first); its own IPC namespace has no such
        # key either (ENOENT); without both, a worker uid is still not the segment's owner.
        assert got and not any(t.endswith(": ok") for t in got), run.explain()
        if any("+ipc+" in t for t in run.texts("main") if t.startswith("ukernel: confined: ")):
            assert got in (["attempt shmget: EPERM"], ["attempt shmget: ENOENT"]), run.explain()
