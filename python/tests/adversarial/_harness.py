"""Shared harness of the adversarial suite: run an attacker's app through a real kernel (``<repo>/ukernel run``)
with real workers, once confined (the default, strict) and once with ``--insecure-no-sandbox``, and read back the
console as JSON lines.

Each test module of this directory is one class of attack (docs/confinement.md lists them). A module writes its
attacker app with :func:`make_app`, runs it with :func:`run_app`, and asserts the *host-side effect* from outside
the worker (a file's mode, a process still alive, a segment's bytes), never only what the worker says. Every
attempt that a sandbox layer stops must also be shown to succeed with ``--insecure-no-sandbox``: otherwise the test
could not fail.
"""

import ctypes
import json
import os
import subprocess
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
LAUNCHER = os.environ.get("UKERNEL_E2E_LAUNCHER") or str(REPO / "ukernel")
TIMEOUT = 900  # the first run may build the CLI

DEFAULT_MANIFEST = """\
name = "attacker"
entry = "src/main.py"

[caps]
grant = ["LOG", "TIME", "TASK", "IPC"]
"""


def host_can_confine():
    """None when this host can run the strict sandbox, else why not (the strict half of a test is then skipped)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        abi = libc.syscall(ctypes.c_long(444), None, ctypes.c_long(0), ctypes.c_long(1))
    except Exception:
        return "cannot ask for the Landlock ABI"
    if abi < 1:
        return "the host has no Landlock"
    if os.uname().machine != "x86_64":
        return "the seccomp filter is built for x86_64 only"
    return None


def make_app(root, main_py, manifest=DEFAULT_MANIFEST, files=None):
    """Writes an app project under ``root``: ``ukernel.toml``, ``src/main.py`` and any ``files`` (relative path ->
    text). Returns its directory."""
    app = Path(root)
    (app / "src").mkdir(parents=True, exist_ok=True)
    (app / "ukernel.toml").write_text(textwrap.dedent(manifest))
    (app / "src" / "main.py").write_text(textwrap.dedent(main_py))
    for rel, text in (files or {}).items():
        p = app / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return app


class Run:
    """A finished ``ukernel run``: its process result and the console as parsed JSON lines."""

    def __init__(self, proc, lines, raw=""):
        self.proc = proc
        self.lines = lines
        self.raw = raw  # logs/console.log as written (text or JSON lines)

    @property
    def status(self):
        return self.proc.returncode

    def texts(self, task=None):
        """The message of every console line (of one task when ``task`` is given)."""
        return [text(l) for l in self.lines if task is None or l.get("task", "").startswith(task)]

    def events(self, name):
        return [l for l in self.lines if l.get("event") == name]

    def explain(self):
        return "exit status %s\n--- console ---\n%s\n--- stderr ---\n%s" % (
            self.proc.returncode, "\n".join("%s %s %s %s" % (l.get("task"), l.get("level"), l.get("event") or "-",
                                                             text(l)) for l in self.lines[-200:]),
            self.proc.stderr[-4000:])


def text(line):
    return line.get("msg") or line.get("message") or line.get("text") or ""


def run_app(app, *flags, env=(), timeout=TIMEOUT, log_format="json"):
    """Runs the app to its end through the real kernel (``-q --log-format json``). ``flags``: extra options such as
    ``--insecure-no-sandbox``; ``env``: ``KEY=VALUE`` strings passed with ``-e``; ``log_format="text"`` leaves
    ``lines`` empty and the console in ``raw``."""
    args = [LAUNCHER, "run", str(app), "-q", "--log-format", log_format]
    for kv in env:
        args += ["-e", kv]
    args += list(flags)
    proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                          cwd=str(app))
    log = Path(app) / "logs" / "console.log"
    raw = log.read_text("utf-8", "replace") if log.exists() else ""
    lines = []
    for line in raw.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass
    return Run(proc, lines, raw)


# -- a kernel left running, for attacks on live processes ----------------------------------------------------------

class Running:
    """A ``ukernel run`` in progress (``--log-format json``, the console read from its stdout as it comes), for
    attacks whose host-side effect is on live processes: the test inspects ``/proc`` while the workers run, then
    stops the kernel (or kills it). Use as a context manager: the run is stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, app, *flags, env=()):
        import threading

        args = [LAUNCHER, "run", str(app), "--log-format", "json"]
        for kv in env:
            args += ["-e", kv]
        args += list(flags)
        self.app = Path(app)
        self.lines = []
        self.stderr = []
        self._cond = threading.Condition()
        self._done = False
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=str(app))
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self):
        for raw in self.proc.stdout:
            if raw.startswith("{"):
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            self.stderr.append(raw)

    def wait_for(self, predicate, timeout=TIMEOUT):
        """The first console line (a dict) for which ``predicate(line)`` is true; waits for it (``timeout`` only
        bounds a hang). Fails with the console so far if the run ends first."""
        with self._cond:
            seen = 0
            ok = self._cond.wait_for(lambda: any(predicate(l) for l in self.lines[seen:]) or self._done, timeout)
            for l in self.lines:
                if predicate(l):
                    return l
        raise AssertionError("%s before the expected console line\n%s"
                             % ("the run ended" if ok else "timed out", self.explain()))

    def wait_text(self, task, message, timeout=TIMEOUT):
        """Waits for a console line of ``task`` (a prefix such as ``main``) whose message is ``message``."""
        return self.wait_for(lambda l: l.get("task", "").startswith(task) and text(l) == message, timeout)

    def texts(self, task=None):
        with self._cond:
            return [text(l) for l in self.lines if task is None or l.get("task", "").startswith(task)]

    def kernel_pid(self):
        """The kernel JVM's pid: the one its banner names, checked to be in the run's process tree."""
        import re

        banner = self.wait_for(lambda l: re.search(r"· pid \d+$", text(l)) is not None)
        pid = int(text(banner).rsplit(" ", 1)[1])
        assert pid in process_tree(self.proc.pid), "the kernel pid %d is not under the launcher %d" % (
            pid, self.proc.pid)
        return pid

    def task_pid(self, task):
        """The pid the kernel started for ``task`` (``task main#1 started: pid N``)."""
        line = self.wait_for(lambda l: text(l).startswith("task %s#" % task) and " started: pid " in text(l))
        return int(text(line).split(" started: pid ", 1)[1].split(",", 1)[0])

    def worker_pid(self, task):
        """The process running ``task``'s code: with namespaces, the only child of the process the kernel started
        (the supervisor forks the worker as PID 1 of its pid namespace); without, that process itself."""
        pid = self.task_pid(task)
        children = children_of(pid)
        return children[0] if children else pid

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with self._cond:
            self._cond.wait_for(lambda: self._done, timeout)
        return self.proc.returncode

    def explain(self):
        return "--- console ---\n%s\n--- stderr ---\n%s" % (
            "\n".join("%s %s %s %s" % (l.get("task"), l.get("level"), l.get("event") or "-", text(l))
                      for l in self.lines[-200:]), "".join(self.stderr)[-4000:])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def children_of(pid):
    """The pids of ``pid``'s children (``/proc/<pid>/task/*/children``), empty when it has none or is gone."""
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def process_tree(pid):
    """``pid`` and every descendant of it."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children_of(p)
    return out


def proc_status(pid):
    """``/proc/<pid>/status`` as a dict of its fields (text after the colon, stripped)."""
    with open("/proc/%d/status" % pid) as f:
        return dict((k, v.strip()) for k, _, v in (line.partition(":") for line in f))


def alive(pid):
    """Whether ``pid`` exists and is not a zombie."""
    try:
        return proc_status(pid).get("State", "Z")[:1] not in ("Z", "X")
    except OSError:
        return False
