"""Attack class: system calls that reach other processes or outlive the kernel, which only the seccomp allow-list
(``ukernel._seccomp``) stops: ``prlimit64`` on the kernel and on a host process, ``prctl(PR_SET_PDEATHSIG, 0)`` to
survive the kernel, ``inotify`` on host directories, ``clone`` into new namespaces, and ``ioctl(TIOCSTI)`` typing
into a terminal.

Effects are read from outside the worker: ``/proc/<pid>/limits`` of the kernel (while it runs) and of a bystander
the test starts, whether the worker is still alive after ``kill -9`` of the kernel, the terminal's input queue.
Each attack is first shown to work with ``--insecure-no-sandbox`` (or, for TIOCSTI, without the filter).
"""

import os
import select
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

import pytest

from _harness import Running, alive, host_can_confine, make_app, process_tree, text

MAIN = """\
import ctypes, errno, os, signal, sys, time
import ukernel

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
RLIMIT_CPU = 0

class Rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_uint64), ("max", ctypes.c_uint64)]

def syscall(nr, *args):
    ctypes.set_errno(0)
    r = LIBC.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return r, ctypes.get_errno()

def report(name, result):
    r, err = result
    ukernel.info("attempt %s: %s" % (name, "ok" if r >= 0 else errno.errorcode.get(err, str(err))))

def main():
    ukernel.cap_acquire("LOG")
    kernel = int(os.environ.get("UKERNEL_KERNEL_PID") or os.getppid())
    cpu = Rlimit(3600, 3600)  # harmless when it lands (an hour of CPU), visible in /proc/<pid>/limits
    report("prlimit64 kernel", syscall(302, kernel, RLIMIT_CPU, ctypes.byref(cpu), None))
    if os.getppid():
        report("prlimit64 parent", syscall(302, os.getppid(), RLIMIT_CPU, ctypes.byref(cpu), None))
    else:  # in a pid namespace of its own the parent is out of sight (pid 0 would name the worker itself)
        ukernel.info("attempt prlimit64 parent: no parent in sight")
    report("prlimit64 bystander", syscall(302, int(os.environ["BYSTANDER"]), RLIMIT_CPU, ctypes.byref(cpu), None))
    own = Rlimit()
    report("prlimit64 self", syscall(302, 0, RLIMIT_CPU, None, ctypes.byref(own)))
    fd, err = syscall(294, os.O_CLOEXEC)  # inotify_init1
    report("inotify /etc", syscall(254, fd, b"/etc", 0x100) if fd >= 0 else (fd, err))  # IN_CREATE
    # clone into new user and mount namespaces; the child (a copy of this process) exits at once
    pid, err = syscall(56, 0x10000000 | 0x00020000 | signal.SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    report("clone new namespaces", (pid, err))
    report("prctl PR_SET_PDEATHSIG 0", syscall(157, 1, 0, 0, 0, 0))
    parent = os.getppid()
    ukernel.info("attempts done")
    while os.getppid() == parent:  # the kernel is alive: wait for the test to kill it
        time.sleep(0.05)
    # Still running after the kernel died: say so on the host (only possible unconfined).
    with open(os.path.join(os.environ["SURVIVOR_DIR"], "survivor-%d" % os.getpid()), "w") as f:
        f.write("outlived the kernel\\n")
"""


def cpu_limit(pid):
    """The ``Max cpu time`` soft and hard limits of ``pid`` as /proc shows them."""
    for line in Path("/proc/%d/limits" % pid).read_text().splitlines():
        if line.startswith("Max cpu time"):
            return tuple(line.split()[3:5])
    raise AssertionError("no cpu time line in /proc/%d/limits" % pid)


def wait_until(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Attack:
    """One run of the attacker through a real kernel, with a bystander host process and the observations."""

    def __init__(self, tmp_path, *flags):
        self.survivors = tmp_path / "survivors"
        self.survivors.mkdir()
        os.chmod(self.survivors, 0o777)
        self.bystander = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                          stdin=subprocess.PIPE)
        self.baseline = cpu_limit(os.getpid())  # what the kernel and the bystander inherit
        run = Running(make_app(tmp_path / "app", MAIN), *flags,
                      env=["BYSTANDER=%d" % self.bystander.pid, "SURVIVOR_DIR=%s" % self.survivors])
        try:
            run.wait_for(lambda line: text(line) == "attempts done")
            kernel = run.kernel_pid()
            self.kernel_limit = cpu_limit(kernel)
            self.bystander_limit = cpu_limit(self.bystander.pid)
            self.workers = [p for p in process_tree(kernel)[1:] if alive(p)]
            self.texts = run.texts("main")
            self.console = "\n".join(run.texts())
            os.kill(kernel, signal.SIGKILL)  # kill -9 of the kernel JVM (not the launcher, which may not have exec'd it)
        finally:
            run.stop()
            self.bystander.stdin.close()
            self.bystander.wait(60)

    def outcome(self, name):
        for t in self.texts:
            if t.startswith("attempt %s: " % name):
                return t.split(": ", 1)[1]
        raise AssertionError("no outcome for %s\n%s" % (name, self.console))

    def cleanup(self):
        for pid in self.workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_insecure_worker_relimits_host_processes(tmp_path):
    attack = Attack(tmp_path, "--insecure-no-sandbox")
    try:
        assert attack.baseline != ("3600", "3600")
        assert attack.kernel_limit == ("3600", "3600"), attack.console
        assert attack.bystander_limit == ("3600", "3600"), attack.console
        for name in ("prlimit64 kernel", "prlimit64 bystander", "prlimit64 self", "inotify /etc",
                     "clone new namespaces", "prctl PR_SET_PDEATHSIG 0"):
            assert attack.outcome(name) == "ok", (name, attack.console)
        assert attack.workers, "no worker process found below the kernel"
        # Outliving the kernel once the death signal is cleared is test_death.py's insecure half (it finds the
        # survivors by a marker in their environment): this file's survivor check raced the worker's own polling of
        # getppid() under load, so it is not repeated here.
    finally:
        attack.cleanup()


def test_strict_worker_cannot_relimit_host_processes_nor_outlive_the_kernel(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    attack = Attack(tmp_path)
    try:
        assert attack.kernel_limit == attack.baseline, attack.console
        assert attack.bystander_limit == attack.baseline, attack.console
        for name in ("prlimit64 kernel", "prlimit64 bystander", "inotify /etc", "clone new namespaces",
                     "prctl PR_SET_PDEATHSIG 0"):
            assert attack.outcome(name) == "EPERM", (name, attack.console)
        assert attack.outcome("prlimit64 parent") in ("EPERM", "no parent in sight"), attack.console
        assert attack.outcome("prlimit64 self") == "ok", attack.console  # its own limits stay readable
        assert attack.workers, "no worker process found below the kernel"
        # kill -9 of the kernel took every worker with it (PR_SET_PDEATHSIG held).
        assert wait_until(lambda: not any(alive(p) for p in attack.workers)), \
            "a worker outlived the kernel: %s" % [p for p in attack.workers if alive(p)]
        assert not list(attack.survivors.iterdir())
    finally:
        attack.cleanup()


# -- TIOCSTI: a worker of the kernel holds no terminal, so this one runs a confined process on a pty directly -----

PYTHON_DIR = Path(__file__).resolve().parents[2]

TIOCSTI_PROBE = """\
import ctypes, errno, fcntl, os, sys, termios
sys.path.insert(0, %(python)r)
os.setsid()
fd = os.open(%(slave)r, os.O_RDWR)  # a session leader opening a tty without O_NOCTTY: its controlling terminal
from ukernel import _confine
mode = sys.argv[1]
if mode == "strict":
    _confine.confine(os.getcwd())
elif mode == "no-filter":  # what the other layers do to it: no_new_privs, every capability dropped
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    assert libc.syscall(126, header, (ctypes.c_uint32 * 6)()) == 0  # capset: all sets empty
try:
    for ch in b"id\\n":
        fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
    print("TIOCSTI ok")
except OSError as e:
    print("TIOCSTI", errno.errorcode[e.errno])
"""


def typed_into(tmp_path, mode):
    """Runs the probe on a fresh pty in ``mode``; returns (its report, what reached the terminal's input)."""
    if not Path("/dev/ptmx").exists():
        pytest.skip("no pseudo-terminals on this host")
    master, slave = os.openpty()
    try:
        tty.setraw(slave)
        script = tmp_path / "tiocsti.py"
        script.write_text(TIOCSTI_PROBE % {"python": str(PYTHON_DIR), "slave": os.ttyname(slave)})
        r = subprocess.run([sys.executable, "-I", "-S", str(script), mode], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        typed = b""
        while select.select([slave], [], [], 0)[0]:  # TIOCSTI is synchronous: anything typed is queued by now
            typed += os.read(slave, 100)
        return r.stdout.strip(), typed
    finally:
        os.close(master)
        os.close(slave)


def test_unconfined_process_types_into_its_terminal(tmp_path):
    assert typed_into(tmp_path, "off") == ("TIOCSTI ok", b"id\n")


def test_only_the_filter_stops_tiocsti(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    if Path("/proc/sys/dev/tty/legacy_tiocsti").exists() and \
            Path("/proc/sys/dev/tty/legacy_tiocsti").read_text().strip() == "0":
        pytest.skip("this host refuses TIOCSTI to processes without CAP_SYS_ADMIN already")
    assert typed_into(tmp_path, "no-filter") == ("TIOCSTI ok", b"id\n")  # dropped capabilities let it by
    assert typed_into(tmp_path, "strict") == ("TIOCSTI EPERM", b"")

