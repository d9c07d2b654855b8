"""Attack class: outliving the kernel. Reproduced on the first version: a task that calls
``prctl(PR_SET_PDEATHSIG, 0)`` survived ``kill -9`` of the kernel. The attacker clears its death signal, tries to
fork a child that leaves its process group, and waits; the test SIGKILLs the kernel JVM (the ``ukernel run`` java
process, found from the run's process tree) and then finds every process of the worker by a marker it put in
their environment (``/proc/*/environ``): none may survive. Death is waited for on pidfds, not on a clock."""

import os
import select
import signal
import uuid

import pytest

from _harness import Running, alive, host_can_confine, make_app

MAIN = """\
import ctypes, errno, os, time
import ukernel

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1

def main():
    ukernel.cap_acquire("LOG")
    ctypes.set_errno(0)
    r = LIBC.prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0)
    ukernel.info("attempt clear death signal: %s" % ("ok" if r == 0 else errno.errorcode.get(ctypes.get_errno())))
    try:
        pid = os.fork()
    except OSError as e:
        ukernel.info("attempt fork: %s" % errno.errorcode.get(e.errno, e.errno))
    else:
        if pid == 0:
            try:
                os.setsid()
            except OSError:
                pass
            while True:
                time.sleep(3600)
        ukernel.info("attempt fork: ok")
    ukernel.info("ready")
    while True:
        time.sleep(3600)
"""

WAIT = 120  # bounds a hang only


def marked(marker):
    """The live processes whose environment holds ``DEATH_MARKER=<marker>``."""
    needle = b"DEATH_MARKER=" + marker.encode() + b"\0"
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if needle in env and alive(int(name)):
            out.append(int(name))
    return out


def wait_gone(pid, timeout=WAIT):
    """Waits until ``pid`` has exited (its pidfd is readable); True when it has."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def kill_kernel(tmp_path, *flags):
    """Starts the attacker, SIGKILLs the kernel once it is ready and waits for the kernel's end; returns the
    marker, the worker's processes before the kill, and the run."""
    marker = uuid.uuid4().hex
    app = make_app(tmp_path / "app", MAIN)
    run = Running(app, *flags, env=["DEATH_MARKER=" + marker])
    try:
        run.wait_text("main", "ready")
        kernel = run.kernel_pid()
        before = marked(marker)
        assert before, "the worker's processes carry the marker\n" + run.explain()
        os.kill(kernel, signal.SIGKILL)
        assert wait_gone(kernel), "the kernel did not die"
        return marker, before, run
    finally:
        run.stop()


def attempts(run):
    return dict(t[len("attempt "):].rsplit(": ", 1) for t in run.texts("main") if t.startswith("attempt "))


def test_insecure_worker_outlives_the_kernel(tmp_path):
    marker, before, run = kill_kernel(tmp_path, "--insecure-no-sandbox")
    try:
        assert attempts(run) == {"clear death signal": "ok", "fork": "ok"}, run.explain()
        # The kernel has exited (its pidfd fired after its death signals were sent): what is left outlived it.
        survivors = marked(marker)
        assert len(survivors) == 2, "the worker and its child outlive the kernel without the sandbox: %s" % survivors
    finally:
        for pid in marked(marker):
            os.kill(pid, signal.SIGKILL)


def test_strict_worker_dies_with_the_kernel(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    marker, before, run = kill_kernel(tmp_path)
    try:
        for pid in before:
            assert wait_gone(pid), "worker process %d survived the kernel\n%s" % (pid, run.explain())
        assert marked(marker) == [], run.explain()
        got = attempts(run)
        assert got.get("fork") != "ok", run.explain()
        applied = [t for t in run.texts("main") if t.startswith("ukernel: confined: ")]
        if any("+pid+" in a for a in applied):
            assert len(before) == 2, "the supervisor and the worker (PID 1 of its namespace): %s" % before
    finally:
        for pid in marked(marker):
            os.kill(pid, signal.SIGKILL)
