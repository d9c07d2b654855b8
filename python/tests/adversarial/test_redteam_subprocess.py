"""Attack class: programs beyond the manifest's list, and children beyond the task. A task whose manifest lists
programs (``[caps] subprocess``) may fork and ``execve`` (the seccomp filter's process variant); what runs is
Landlock's matter (the execute right on the listed files and their ELF interpreter, nothing else), the view's
(only those files are bound; ``/tmp``, ``HOME`` and preopens are ``noexec``) and seccomp's (``execveat`` refused:
no ``fexecve``). Every child inherits the filter, the Landlock domain, the namespaces and ``RLIMIT_NPROC``, and dies
with the task's PID 1.

Each attack is run with ``--insecure-no-sandbox`` (where it succeeds) and confined; the effect is read on the host:
files in an ``rw`` preopen, the console, ``/proc``. The exec attempts bypass Python's audit hook (raw ``execve``
through ctypes in a forked child): the wall is tested, not the message.
"""

import os
import sys
import time

import pytest

from _harness import REPO, Running, host_can_confine, make_app, process_tree, run_app, text

if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))
from ukernel._jail import MAX_THREADS  # noqa: E402

MANIFEST = """\
name = "attacker"
entry = "src/main.py"

[caps]
grant = ["LOG", "IO"]
subprocess = ["/bin/sh", "python"]

[caps.io]
out = { path = "out", mode = "rw" }
"""

COMMON = """\
import ctypes, os, signal, subprocess, sys, time
import ukernel

libc = ctypes.CDLL(None, use_errno=True)
OUT = os.environ["UKERNEL_PREOPEN_OUT"]


def argv_of(args):
    return (ctypes.c_char_p * (len(args) + 1))(*[a.encode() for a in args], None)


def raw(how, target, args):
    # fork; the child calls execve/fexecve itself (no audit hook on the way): exit 0 = it ran, 100+errno = refused
    pid = os.fork()
    if pid == 0:
        try:
            envp = (ctypes.c_char_p * 1)(None)
            if how == "fexecve":
                libc.fexecve(target, argv_of(args), envp)
            else:
                libc.execve(target.encode(), argv_of(args), envp)
            os._exit(100 + ctypes.get_errno())
        except BaseException:
            os._exit(99)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
"""

ATTACKS = {
    # a program the manifest does not list: one outside the view (touch) and one inside it (the C library, an
    # executable file of the read-only library directory)
    "unlisted": """
def main():
    ukernel.cap_acquire("LOG")
    touch = raw("execve", "/usr/bin/touch", ["touch", OUT + "/unlisted-ran"])
    libc_so = raw("execve", os.environ["LIBC"], ["libc.so.6"])
    ukernel.info("result: touch %d libc %d" % (touch, libc_so))
""",
    # a script and a copy of a listed ELF program written to the temporary directory, then executed
    "written": """
def main():
    ukernel.cap_acquire("LOG")
    tmp = os.environ["TMPDIR"]
    script = os.path.join(tmp, "x.sh")
    fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
    os.write(fd, ("#!/bin/sh\\necho script > %s/script-ran\\n" % OUT).encode())
    os.close(fd)
    with open(os.path.realpath("/bin/sh"), "rb") as f:
        elf = f.read()
    copy = os.path.join(tmp, "sh2")
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
    os.write(fd, elf)
    os.close(fd)
    a = raw("execve", script, ["x.sh"])
    b = raw("execve", copy, ["sh2", "-c", "echo copy > %s/copy-ran" % OUT])
    ukernel.info("result: script %d copy %d" % (a, b))
""",
    # a listed program's bytes in a memfd, executed through its descriptor (fexecve: execveat with AT_EMPTY_PATH,
    # or /proc/self/fd/N)
    "memfd": """
def main():
    ukernel.cap_acquire("LOG")
    with open(os.path.realpath("/bin/sh"), "rb") as f:
        elf = f.read()
    fd = os.memfd_create("payload", 0)
    os.write(fd, elf)
    a = raw("fexecve", fd, ["sh", "-c", "echo memfd > %s/memfd-ran" % OUT])
    b = raw("execve", "/proc/self/fd/%d" % fd, ["sh", "-c", "echo procfd > %s/procfd-ran" % OUT])
    ukernel.info("result: fexecve %d procfd %d" % (a, b))
""",
    # a child that leaves the task's session, ignores every catchable signal and waits to outlive the task
    "escape": """
CHILD = "import os, signal, time\\n" \\
        "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):\\n" \\
        "    signal.signal(s, signal.SIG_IGN)\\n" \\
        "print('ready', flush=True)\\n" \\
        "fd = os.open(os.devnull, os.O_WRONLY)\\n" \\
        "os.dup2(fd, 1)\\n" \\
        "time.sleep(3600)\\n"


def main():
    ukernel.cap_acquire("LOG")
    child = subprocess.Popen([sys.executable, "-c", CHILD, os.environ["MARKER"]], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    ukernel.info("child says %s" % child.stdout.readline().decode().strip())
""",
    # more children than the bound, each holding a pid (a shell waiting on a pipe)
    "forkbomb": """
def main():
    ukernel.cap_acquire("LOG")
    r, w = os.pipe()
    started, error = 0, "none"
    for _ in range(int(os.environ["WANTED"])):
        try:
            os.posix_spawn("/bin/sh", ["sh", "-c", "read x"], {}, file_actions=[(os.POSIX_SPAWN_DUP2, r, 0)])
            started += 1
        except OSError as e:
            error = e.strerror
            break
    ukernel.info("spawned: %d (%s)" % (started, error))
    while True:  # hold them until the test stops the kernel
        time.sleep(1)
""",
}

WANTED = MAX_THREADS + 200


def confined_or_skip():
    why = host_can_confine()
    if why:
        pytest.skip(why)


def attacker(tmp_path, attack):
    app = make_app(tmp_path / "app", COMMON + ATTACKS[attack], MANIFEST)
    (app / "out").mkdir()
    os.chmod(app / "out", 0o777)
    return app


def libc_path():
    return os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6")


def result(run):
    lines = [t for t in run.texts("main") if t.startswith("result: ")]
    assert lines, run.explain()
    return lines[0]


@pytest.mark.parametrize("insecure", [True, False], ids=["insecure", "confined"])
def test_an_unlisted_program_does_not_run(tmp_path, insecure):
    if not insecure:
        confined_or_skip()
    if not os.access(libc_path(), os.X_OK) or not os.path.exists("/usr/bin/touch"):
        pytest.skip("needs /usr/bin/touch and an executable libc.so.6")
    app = attacker(tmp_path, "unlisted")
    run = run_app(app, *(["--insecure-no-sandbox"] if insecure else []), env=["LIBC=" + libc_path()])
    assert run.status == 0, run.explain()
    ran = (app / "out" / "unlisted-ran").exists()
    banner = any("GNU C Library" in t for t in run.texts("main"))
    if insecure:
        assert ran and banner and result(run) == "result: touch 0 libc 0", run.explain()
    else:
        assert not ran and not banner, run.explain()
        # touch is not in the view (ENOENT); the C library is, but nothing gives it the execute right (EACCES)
        assert result(run) == "result: touch 102 libc 113", run.explain()


@pytest.mark.parametrize("insecure", [True, False], ids=["insecure", "confined"])
def test_a_script_or_a_program_written_to_tmp_does_not_run(tmp_path, insecure):
    if not insecure:
        confined_or_skip()
    app = attacker(tmp_path, "written")
    run = run_app(app, *(["--insecure-no-sandbox"] if insecure else []))
    assert run.status == 0, run.explain()
    made = sorted(p.name for p in (app / "out").iterdir())
    if insecure:
        assert made == ["copy-ran", "script-ran"], run.explain()
    else:
        assert made == [], run.explain()
        assert result(run) == "result: script 113 copy 113", run.explain()  # EACCES: noexec tmpfs, Landlock


@pytest.mark.parametrize("insecure", [True, False], ids=["insecure", "confined"])
def test_a_program_in_a_memfd_does_not_run(tmp_path, insecure):
    if not insecure:
        confined_or_skip()
    app = attacker(tmp_path, "memfd")
    run = run_app(app, *(["--insecure-no-sandbox"] if insecure else []))
    assert run.status == 0, run.explain()
    made = sorted(p.name for p in (app / "out").iterdir())
    if insecure:
        assert made == ["memfd-ran", "procfd-ran"], run.explain()
    else:
        assert made == [], run.explain()
        # execveat refused by seccomp (EPERM); no /proc in the view (ENOENT)
        assert result(run) == "result: fexecve 101 procfd 102", run.explain()


def marked(marker):
    """Host pids whose command line carries ``marker``."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    if marker.encode() in f.read().split(b"\0"):
                        out.append(int(name))
            except OSError:
                pass
    return out


@pytest.mark.parametrize("insecure", [True, False], ids=["insecure", "confined"])
def test_a_child_does_not_outlive_its_task(tmp_path, insecure):
    if not insecure:
        confined_or_skip()
    marker = "ukernel-escape-%d-%d" % (os.getpid(), time.monotonic_ns())
    app = attacker(tmp_path, "escape")
    run = run_app(app, *(["--insecure-no-sandbox"] if insecure else []), env=["MARKER=" + marker])
    try:
        assert run.status == 0 and "child says ready" in run.texts("main"), run.explain()
        left = marked(marker)  # the run is over: the kernel has exited
        if insecure:
            assert left, "the child should outlive an unconfined task\n" + run.explain()
        else:
            assert left == [], run.explain()
    finally:
        for pid in marked(marker):
            try:
                os.kill(pid, 9)
            except OSError:
                pass


@pytest.mark.parametrize("insecure", [True, False], ids=["insecure", "confined"])
def test_a_fork_bomb_stops_at_the_bound(tmp_path, insecure):
    if os.geteuid() != 0:
        pytest.skip("the attack is measured with a root kernel (the bound of the insecure run is the user's)")
    if not insecure:
        confined_or_skip()
    app = attacker(tmp_path, "forkbomb")
    with Running(app, *(["--insecure-no-sandbox"] if insecure else []), env=["WANTED=%d" % WANTED]) as run:
        line = run.wait_for(lambda l: text(l).startswith("spawned: "))
        started = int(text(line).split(": ", 1)[1].split(" ", 1)[0])
        held = len(process_tree(run.task_pid("main")))
        console = run.explain()
    if insecure:
        assert started == WANTED and held > WANTED, console
    else:
        assert started < MAX_THREADS and held <= MAX_THREADS + 1, console  # + 1: the supervisor outside
        assert "Resource temporarily unavailable" in text(line), console
