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

    def __init__(self, proc, lines):
        self.proc = proc
        self.lines = lines

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


def run_app(app, *flags, env=(), timeout=TIMEOUT):
    """Runs the app to its end through the real kernel (``-q --log-format json``). ``flags``: extra options such as
    ``--insecure-no-sandbox``; ``env``: ``KEY=VALUE`` strings passed with ``-e``."""
    args = [LAUNCHER, "run", str(app), "-q", "--log-format", "json"]
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
    return Run(proc, lines)


class LiveRun:
    """A ``ukernel run`` still going: its console (JSON lines on stdout) is read as it comes, so a test can look at
    the host while the kernel and its workers are alive (e.g. ``/proc/<kernel>/limits``), then end it."""

    def __init__(self, proc):
        import queue
        import threading

        self.proc = proc
        self.lines = []
        self._queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            if raw.startswith("{"):
                try:
                    self._queue.put(json.loads(raw))
                except ValueError:
                    pass
        self._queue.put(None)  # end of the console

    @property
    def kernel_pid(self):
        return self.proc.pid  # the launcher execs the JVM

    def wait_for(self, predicate, timeout=TIMEOUT):
        """Reads console lines until one satisfies ``predicate`` (a function of the line's text); returns its text.
        Raises AssertionError with the console when the run ends first or ``timeout`` passes."""
        import queue

        try:
            while True:
                line = self._queue.get(timeout=timeout)
                if line is None:
                    break
                self.lines.append(line)
                if predicate(text(line)):
                    return text(line)
        except queue.Empty:
            pass
        raise AssertionError("the console never showed the awaited line\n" + "\n".join(
            "%s %s %s %s" % (l.get("task"), l.get("level"), l.get("event") or "-", text(l)) for l in self.lines[-100:]))

    def texts(self, task=None):
        return [text(l) for l in self.lines if task is None or l.get("task", "").startswith(task)]

    def stop(self, timeout=120):
        """Ends the kernel (SIGTERM) and waits for it; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout)


def start_app(app, *flags, env=()):
    """Starts the app through the real kernel with its console on a pipe (``--log-format json``); returns a
    :class:`LiveRun`. The caller must ``stop()`` it."""
    args = [LAUNCHER, "run", str(app), "--log-format", "json"]
    for kv in env:
        args += ["-e", kv]
    args += list(flags)
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=str(app))
    return LiveRun(proc)
