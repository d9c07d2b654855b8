"""Attack class: a worker with the kernel's identity. A root kernel used to start root workers (capabilities
dropped, uid 0 kept) in the host's namespaces: every uid-0 check on the host (files owned by root, other root
processes, SysV IPC keys, the hostname) treated them as the host. The test reads the worker's identity and
namespaces from outside (``/proc/<pid>/status``, ``/proc/<pid>/ns/*``), never from what the worker says."""

import os

import pytest

from _harness import Running, host_can_confine, make_app, proc_status

WORKER_ID_MIN = 2_000_000_000
WORKER_ID_MAX = 4_294_967_294
NAMESPACES = ("mnt", "pid", "ipc", "net", "uts")

MAIN = """\
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
grant = ["LOG", "TIME"]

[[task]]
name = "other"
entry = "src/main.py"
start = "boot"
"""


def ids(pid):
    st = proc_status(pid)
    uids = [int(x) for x in st["Uid"].split()]
    gids = [int(x) for x in st["Gid"].split()]
    return uids, gids, st["Groups"].split(), int(st["CapBnd"], 16), int(st["CapEff"], 16)


def namespaces(pid):
    return {ns: os.readlink("/proc/%d/ns/%s" % (pid, ns)) for ns in NAMESPACES}


def start(tmp_path, *flags):
    return Running(make_app(tmp_path / "app", MAIN, MANIFEST), *flags)


def test_insecure_worker_is_the_kernels_user_in_the_hosts_namespaces(tmp_path):
    with start(tmp_path, "--insecure-no-sandbox") as run:
        run.wait_text("main", "ready")
        run.wait_text("other", "ready")
        worker = run.worker_pid("main")
        uids, gids, _, _, _ = ids(worker)
        assert uids == [os.geteuid()] * 4, run.explain()  # root when the test runs as root: the attack surface
        assert namespaces(worker) == namespaces(os.getpid()), run.explain()


def test_strict_worker_has_its_own_uid_and_namespaces(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    if os.geteuid() != 0:
        pytest.skip("the dedicated worker ids are for a root kernel; this test runs as uid %d" % os.geteuid())
    with start(tmp_path) as run:
        run.wait_text("main", "ready")
        run.wait_text("other", "ready")
        seen = set()
        for task in ("main", "other"):
            worker = run.worker_pid(task)
            uids, gids, groups, bounding, effective = ids(worker)
            assert len(set(uids)) == 1 and WORKER_ID_MIN <= uids[0] <= WORKER_ID_MAX, (uids, run.explain())
            assert gids == uids, (gids, run.explain())
            assert groups == [] and bounding == 0 and effective == 0, run.explain()
            assert proc_status(worker)["NSpid"].split()[-1] == "1", "the worker is PID 1 of its own pid namespace"
            mine = namespaces(os.getpid())
            theirs = namespaces(worker)
            for ns in NAMESPACES:
                assert theirs[ns] != mine[ns], "%s namespace shared with the host\n%s" % (ns, run.explain())
            seen.add(uids[0])
        assert len(seen) == 2, "each task runs as its own uid: %s" % seen
        applied = [t for t in run.texts() if t.startswith("ukernel: confined: ")]
        assert len(applied) == 2 and all("namespaces mount+pid+ipc+net+uts" in a for a in applied), run.explain()
