"""Start-up cost of confinement: process start to the first heartbeat of examples/hello, sandboxed and not, and
against the sandboxes a user would otherwise pick (bubblewrap, firejail) running the same file.

Rows (N interleaved runs each, min and median; warm: a first run of each builds/caches what it needs):

* ``ukernel run`` (strict: no_new_privs + Landlock + seccomp applied by the loader) and
  ``ukernel run --insecure-no-sandbox``: ``./ukernel run examples/hello -e HEARTBEATS=1``, clock from spawn to the
  stdout line with ``heartbeat 1``;
* ``python3`` (the floor), ``bwrap --unshare-all ... python3`` and ``firejail --quiet python3``: the same file,
  ``examples/hello/src/main.py``, with the stand-in ``bench/floor/ukernel.py`` (print for the kernel calls) on
  ``PYTHONPATH``, run by the interpreter the kernel uses, same clock;
* the confinement alone, measured inside a worker-like process: ``_confine.confine()`` timed with
  ``perf_counter`` in ``python3 -I -S`` (no kernel).

A sandbox that cannot run here is reported with the reason (its stderr) instead of a figure.
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELLO = os.path.join(ROOT, "examples", "hello")
MAIN = os.path.join(HELLO, "src", "main.py")
FLOOR_DIR = os.path.join(ROOT, "bench", "floor")
HEARTBEAT = re.compile(rb"\bheartbeat 1\b")
STAMP = re.compile(rb"^\[\s*([0-9.]+)\]")
MARKS = {"started": b"task main#1 started", "hello": b"connected to the kernel", "heartbeat": b"heartbeat 1"}
HELLO_TO_HEARTBEAT = {}  # command -> [seconds], from the kernel's own timestamps (--debug shows the hello)
START_TO_HEARTBEAT = {}
FLOOR_CODE = "import asyncio, main; raise SystemExit(asyncio.run(main.main()))"  # as bench/startup.py runs it


def python_exe():
    out = subprocess.run(["python3", "-I", "-S", "-c", "import sys; print(sys.executable)"], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def to_heartbeat(cmd, env=None, timeout=60):
    """Seconds from spawn to the 'heartbeat 1' line, or (None, stderr) when it never came."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    seen = None
    marks = {}
    for line in p.stdout:
        if seen is None and HEARTBEAT.search(line):
            seen = time.perf_counter() - start
        m = STAMP.match(line)
        if m:
            for name, pattern in MARKS.items():
                if name not in marks and pattern in line:
                    marks[name] = float(m.group(1))
    if "heartbeat" in marks and "hello" in marks:
        HELLO_TO_HEARTBEAT.setdefault(tuple(cmd), []).append(marks["heartbeat"] - marks["hello"])
    if "heartbeat" in marks and "started" in marks:
        START_TO_HEARTBEAT.setdefault(tuple(cmd), []).append(marks["heartbeat"] - marks["started"])
    err = p.stderr.read().decode("utf-8", "replace")
    p.wait(timeout)
    if seen is None or p.returncode != 0:
        return None, "exit %s: %s" % (p.returncode, err.strip()[-400:])
    return seen, err


def confine_cost(py, reps):
    code = ("import os, sys, time; sys.path.insert(0, %r); import ctypes; t = time.perf_counter(); "
            "from ukernel import _confine; _confine.confine(os.getcwd()); "
            "print((time.perf_counter() - t) * 1000)" % os.path.join(ROOT, "python"))
    out = []
    for _ in range(reps):
        r = subprocess.run([py, "-I", "-S", "-c", code], cwd=HELLO, capture_output=True, text=True)
        if r.returncode == 0:
            out.append(float(r.stdout.strip().splitlines()[-1]) / 1000)
    return out


def main():
    reps = 10
    if len(sys.argv) > 2 and sys.argv[1] == "-n":
        reps = int(sys.argv[2])
    py = python_exe()
    floor_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HEARTBEATS": "1",
                 "PYTHONPATH": FLOOR_DIR + os.pathsep + os.path.dirname(MAIN)}
    uk = [os.path.join(ROOT, "ukernel"), "run", HELLO, "--debug", "-e", "HEARTBEATS=1"]
    rows = {
        "ukernel run (strict sandbox)": (uk, None),
        "ukernel run --insecure-no-sandbox": (uk + ["--insecure-no-sandbox"], None),
        "python3 (floor, no sandbox)": ([py, "-B", "-c", FLOOR_CODE], floor_env),
    }
    bwrap = shutil.which("bwrap")
    firejail = shutil.which("firejail")
    skipped = {}
    if bwrap:
        rows["bwrap --unshare-all python3"] = ([bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                                               "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", py, "-B", "-c", FLOOR_CODE],
                                              floor_env)
    else:
        skipped["bwrap --unshare-all python3"] = "bwrap is not installed (apt-get install bubblewrap)"
    if firejail:
        rows["firejail --quiet python3"] = ([firejail, "--quiet", py, "-B", "-c", FLOOR_CODE], floor_env)
        # firejail's default profile hides home directories, and with them a pyenv interpreter under /root: the
        # same file then runs under the system python3, which gets a floor row of its own for a fair ratio.
        system = "/usr/bin/python3"
        if os.path.realpath(system) != os.path.realpath(py) and os.path.exists(system):
            rows["firejail --quiet /usr/bin/python3"] = ([firejail, "--quiet", system, "-B", "-c", FLOOR_CODE],
                                                         floor_env)
            rows["/usr/bin/python3 (system floor)"] = ([system, "-B", "-c", FLOOR_CODE], floor_env)
            rows["firejail --quiet --noprofile python3"] = ([firejail, "--quiet", "--noprofile", py, "-B", "-c",
                                                             FLOOR_CODE], floor_env)
    else:
        skipped["firejail --quiet python3"] = "firejail is not installed (apt-get install firejail)"

    results = {name: [] for name in rows}
    for name, (cmd, env) in rows.items():  # warm-up: builds, caches, and finds what cannot run here
        t, err = to_heartbeat(cmd, env)
        if t is None:
            skipped[name] = err
    for name in skipped:
        results.pop(name, None)
    for _ in range(reps):
        for name in results:
            cmd, env = rows[name]
            t, err = to_heartbeat(cmd, env)
            if t is not None:
                results[name].append(t)
    cost = confine_cost(py, reps)

    print("start-up to the first heartbeat of examples/hello (%d interleaved runs each, warm)" % reps)
    print("%-40s %10s %10s %8s" % ("", "min ms", "median ms", "ratio"))
    floor = statistics.median(results.get("python3 (floor, no sandbox)") or [float("nan")])
    for name, ts in results.items():
        if ts:
            m = statistics.median(ts)
            print("%-40s %10.1f %10.1f %7.2fx" % (name, min(ts) * 1000, m * 1000, m / floor))
    strict = results.get("ukernel run (strict sandbox)")
    off = results.get("ukernel run --insecure-no-sandbox")
    if strict and off:
        print("%-40s %21.1f" % ("sandbox cost (strict - insecure, median)",
                                (statistics.median(strict) - statistics.median(off)) * 1000))
    print()
    print("inside ukernel, from the kernel's console timestamps (median ms):")
    for name in ("ukernel run (strict sandbox)", "ukernel run --insecure-no-sandbox"):
        if name in results:
            key = tuple(rows[name][0])
            hh = HELLO_TO_HEARTBEAT.get(key, [])
            sh = START_TO_HEARTBEAT.get(key, [])
            if hh and sh:
                print("%-40s hello -> heartbeat %6.1f   worker start -> heartbeat %6.1f" % (
                    name, statistics.median(hh) * 1000, statistics.median(sh) * 1000))
    if cost:
        print("%-40s %10.2f %10.2f" % ("_confine.confine() alone, in -I -S", min(cost) * 1000,
                                       statistics.median(cost) * 1000))
    for name, why in skipped.items():
        print("%s: not measured: %s" % (name, why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
