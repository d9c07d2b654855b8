"""Attack class: record locks on host files. Every file a worker can open is a host file (the runtime, public data,
the bundle: read-only bind mounts of the same inodes), and a read lock on one (``fcntl(F_SETLK)``, ``F_SETLKW``,
OFD locks; ``lockf``) is seen by every host process: a host writer that locks the file (``lockf``, SQLite, a
package manager) then fails with EAGAIN, or hangs in ``F_SETLKW`` for as long as the worker likes. ``flock`` was
already refused for the same reason; the seccomp allow-list now refuses the record-lock commands of ``fcntl`` too.

The effect is read from outside: the test asks, with ``F_GETLK`` on its own descriptor, whether a write lock on
the worker's bundle file would conflict while the worker holds its lock.
"""

import fcntl
import os
import struct

import pytest

from _harness import Running, host_can_confine, make_app, text

MAIN = """\
import errno, fcntl, os, time
import ukernel

def main():
    ukernel.cap_acquire("LOG")
    target = os.path.realpath("ukernel.toml")  # the bundle's copy: a host inode, bind-mounted read-only
    fd = os.open(target, os.O_RDONLY)
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # F_SETLK, F_RDLCK: a read-only descriptor suffices
        outcome = "ok"
    except OSError as e:
        outcome = errno.errorcode.get(e.errno, str(e.errno))
    ukernel.info("attempt lock %s: %s" % (target, outcome))
    while True:  # hold the lock (if any) until the test stops the kernel
        time.sleep(1)
"""

F_WRLCK, F_UNLCK = 1, 2


def conflicting_lock(path):
    """The pid holding a lock that would refuse a host write lock on ``path`` (``F_GETLK``), or None."""
    fd = os.open(path, os.O_RDONLY)
    try:
        # struct flock: l_type, l_whence, l_start, l_len, l_pid (+ padding)
        out = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi4x", F_WRLCK, os.SEEK_SET, 0, 0, 0))
    finally:
        os.close(fd)
    l_type, _, _, _, pid = struct.unpack("hhqqi4x", out)
    return None if l_type == F_UNLCK else pid


def attack(tmp_path, *flags):
    with Running(make_app(tmp_path / "app", MAIN), *flags) as run:
        line = run.wait_for(lambda l: text(l).startswith("attempt lock "))
        target, outcome = text(line)[len("attempt lock "):].rsplit(": ", 1)
        assert target.startswith(str(tmp_path / "app")), text(line)  # the host path of the bundle file
        return outcome, conflicting_lock(target), run.explain()


def test_insecure_worker_locks_a_host_file(tmp_path):
    outcome, holder, console = attack(tmp_path, "--insecure-no-sandbox")
    assert outcome == "ok", console
    assert holder is not None, "without the sandbox the lock must land (else this test proves nothing)"


def test_strict_worker_cannot_lock_a_host_file(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    outcome, holder, console = attack(tmp_path)
    assert holder is None, "a confined worker holds a lock on a host file\n" + console
    assert outcome == "EPERM", console  # refused by the seccomp allow-list
