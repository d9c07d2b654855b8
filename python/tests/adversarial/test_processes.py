"""Attack class: reaching other host processes. Reproduced on the first version: ``prlimit64`` on ``getppid()``
set RLIMIT_CPU on the kernel JVM (it died of SIGXCPU), and a worker killed a sibling task and changed the limits
of an unrelated host process. The attacker here changes a harmless limit (RLIMIT_CORE's hard limit, visible in
``/proc/<pid>/limits``) and sends signals (SIGKILL to the bystanders; signal 0, the same permission check without
a delivery, to the kernel), against: the kernel, its parent pid as the worker sees it, a host process the test
started, and a sibling task (its host pid is handed to the attacker through a read-only preopen, since a worker in
its own pid namespace could not learn it). The effect is read from ``/proc`` outside the worker."""

import os
import subprocess

import pytest

from _harness import Running, alive, host_can_confine, make_app

MAIN = """\
import asyncio, ctypes, errno, os
import ukernel

LIBC = ctypes.CDLL(None, use_errno=True)
RLIMIT_CORE = 4

class Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_uint64), ("max", ctypes.c_uint64)]

def result(r):
    return "ok" if r == 0 else errno.errorcode.get(ctypes.get_errno(), "?")

def prlimit(pid):
    new = Rlimit(0, 4096)
    ctypes.set_errno(0)
    return result(LIBC.prlimit64(pid, RLIMIT_CORE, ctypes.byref(new), None))

def kill(pid, sig):
    try:
        os.kill(pid, sig)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

async def targets_file():
    # The test writes the sibling's pid once both tasks run; a worker can only poll a file it is given.
    while True:
        try:
            f = ukernel.io_open("data", "targets")
        except ukernel.NotFoundError:
            await asyncio.sleep(0.02)
            continue
        data = ukernel.io_read(f, 100)
        ukernel.io_close(f)
        return data.decode()

async def main():
    ukernel.cap_acquire("LOG", "TIME", "IO")
    ukernel.info("waiting for targets")
    sibling = int(await targets_file())
    targets = {"kernel": int(os.environ["UKERNEL_KERNEL_PID"]), "bystander": int(os.environ["BYSTANDER"]),
               "sibling": sibling}
    ppid = os.getppid()
    if ppid:
        targets["parent"] = ppid
    else:
        ukernel.info("attempt parent: none, getppid() = 0 (the parent is outside the pid namespace)")
    for name, pid in sorted(targets.items()):
        ukernel.info("attempt prlimit %s: %s" % (name, prlimit(pid)))
    for name, pid in sorted(targets.items()):
        sig = 9 if name in ("bystander", "sibling") else 0
        ukernel.info("attempt kill %s: %s" % (name, kill(pid, sig)))
    ukernel.info("done")
    await asyncio.sleep(3600)
"""

SIBLING = """\
import asyncio
import ukernel

async def main():
    ukernel.cap_acquire("LOG")
    ukernel.info("ready")
    await asyncio.sleep(3600)
"""

MANIFEST = """\
name = "attacker"
entry = "src/main.py"

[caps]
grant = ["LOG", "TIME", "IO"]

[caps.io]
data = { path = "data", mode = "ro" }

[[task]]
name = "sibling"
entry = "src/sibling.py"
caps = ["LOG"]
start = "boot"
"""


def core_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4:6]
    raise AssertionError("no core limit line for %d" % pid)


def attempts(run):
    out = {}
    for t in run.texts("main"):
        if t.startswith("attempt "):
            name, _, outcome = t[len("attempt "):].rpartition(": ")
            out[name] = outcome
    return out


def attack(tmp_path, *flags):
    """Runs the attack; returns (attempts, {name: (pid, limit before, limit after, alive after)})."""
    app = make_app(tmp_path / "app", MAIN, MANIFEST, files={"src/sibling.py": SIBLING})
    (app / "data").mkdir()
    bystander = subprocess.Popen(["sleep", "3600"])
    try:
        with Running(app, *flags, env=["BYSTANDER=%d" % bystander.pid]) as run:
            run.wait_text("sibling", "ready")
            run.wait_text("main", "waiting for targets")
            pids = {"kernel": run.kernel_pid(), "bystander": bystander.pid, "sibling": run.worker_pid("sibling")}
            before = {name: core_limit(pid) for name, pid in pids.items()}
            tmp = app / "data" / "targets.tmp"
            tmp.write_text(str(pids["sibling"]))
            os.rename(tmp, app / "data" / "targets")
            run.wait_text("main", "done")
            if "--insecure-no-sandbox" in flags:  # the bystanders were SIGKILLed: wait for that, not for a time
                bystander.wait(60)
                run.wait_for(lambda l: " ".join(str(v) for v in l.values()).find("task sibling#") >= 0
                             and "exited" in str(l.get("msg") or l.get("message") or ""))
            state = {}
            for name, pid in pids.items():
                is_alive = alive(pid)
                state[name] = (pid, before[name], core_limit(pid) if is_alive else None, is_alive)
            return attempts(run), state, run
    finally:
        bystander.kill()
        bystander.wait()


def test_insecure_worker_changes_limits_and_kills_other_processes(tmp_path):
    got, state, run = attack(tmp_path, "--insecure-no-sandbox")
    assert got["prlimit kernel"] == "ok" and got["prlimit bystander"] == "ok", run.explain()
    assert got["prlimit sibling"] == "ok" and got["kill kernel"] == "ok", run.explain()
    pid, before, after, is_alive = state["kernel"]
    assert after == ["0", "4096"] != before, "the kernel's limit changed: the attack works without the sandbox"
    assert not state["bystander"][3], "the host process was killed"
    assert not state["sibling"][3], "the sibling task was killed"


def test_strict_worker_reaches_no_other_process(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    got, state, run = attack(tmp_path)
    for name in ("kernel", "bystander", "sibling"):
        pid, before, after, is_alive = state[name]
        assert is_alive, "%s (pid %d) was killed\n%s" % (name, pid, run.explain())
        assert after == before, "%s's limits changed: %s -> %s\n%s" % (name, before, after, run.explain())
        assert got["prlimit " + name] != "ok" and got["kill " + name] != "ok", run.explain()
    # Two walls: the seccomp allow-list refuses a signal or prlimit aimed at any pid but the worker's own (EPERM,
    # checked first), and in its own pid namespace the worker could not even name them (ESRCH); it has no parent.
    applied = [t for t in run.texts("main") if t.startswith("ukernel: confined: ")]
    if any("+pid+" in a for a in applied):
        assert all(got[k] in ("EPERM", "ESRCH") for k in got if k.startswith(("prlimit ", "kill ")) and "parent" not in k), got
        assert "parent" in got and got["parent"].startswith("none"), got
