"""Attack class: host process-table exhaustion through threads. A worker may create threads (``clone`` with
``CLONE_THREAD``), and every thread takes a host pid: the pid namespace hides them but does not count them, and a
root kernel's ``RLIMIT_NPROC`` (inherited) is usually above the host's ``pid_max`` (32768 on small hosts). So one
worker could take every pid on the host, and no host process (the kernel starting a worker included) could fork.

Each worker of a root kernel runs as a uid of its own, so ``RLIMIT_NPROC``, which counts the tasks of a real uid,
bounds exactly that worker's threads (``_jail.MAX_THREADS``; the worker cannot raise it: ``CAP_SYS_RESOURCE`` is
dropped and ``setrlimit`` is refused). The test asks for more threads than the bound (but far fewer than the
host's pids: it must not harm the machine) and reads the worker's thread count from ``/proc/<pid>/status``
outside it while the worker holds them.
"""

import os
import sys

import pytest

from _harness import REPO, Running, host_can_confine, make_app, proc_status, text

if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))
from ukernel._jail import MAX_THREADS  # noqa: E402

WANTED = MAX_THREADS + 200

MAIN = """\
import os, threading, time
import ukernel

def main():
    ukernel.cap_acquire("LOG")
    threading.stack_size(64 * 1024)  # small stacks: the attack is about pids, not memory
    stop = threading.Event()
    started = 0
    error = "none"
    for _ in range(int(os.environ["WANTED"])):
        try:
            threading.Thread(target=stop.wait, daemon=True).start()
            started += 1
        except RuntimeError as e:  # "can't start new thread": clone failed (EAGAIN at RLIMIT_NPROC)
            error = str(e)
            break
    ukernel.info("threads started: %d (%s)" % (started, error))
    while True:  # hold them until the test stops the kernel
        time.sleep(1)
"""


def attack(tmp_path, *flags):
    with Running(make_app(tmp_path / "app", MAIN), *flags, env=["WANTED=%d" % WANTED]) as run:
        line = run.wait_for(lambda l: text(l).startswith("threads started: "))
        threads = int(proc_status(run.worker_pid("main"))["Threads"])
        return int(text(line).split(": ", 1)[1].split(" ", 1)[0]), threads, run.explain()


def test_insecure_worker_takes_host_pids_without_bound(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the bound applies to a root kernel's workers (a uid of their own)")
    started, threads, console = attack(tmp_path, "--insecure-no-sandbox")
    assert started == WANTED, console
    assert threads > MAX_THREADS, "without the sandbox the threads must all start (else this test proves nothing)"


def test_strict_worker_threads_are_bounded(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    if os.geteuid() != 0:
        pytest.skip("the bound applies to a root kernel's workers (a uid of their own)")
    started, threads, console = attack(tmp_path)
    assert threads <= MAX_THREADS, "a confined worker holds %d host pids\n%s" % (threads, console)
    assert started < WANTED, console
