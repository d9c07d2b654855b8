"""Start-up cost of the worker's own namespaces (python/ukernel/_jail.py): what they add between the worker's hello
and its first heartbeat, and what a well-known sandbox doing comparable work adds to a bare interpreter.

Rows (N interleaved runs each, medians and minima, warm):

* ``ukernel run`` strict (this checkout: namespaces, minimal root, fork, worker uid, then Landlock + seccomp),
  ``--insecure-no-sandbox``, and, with ``--baseline <launcher>``, the strict mode of an older checkout (Landlock +
  seccomp only): **hello -> heartbeat 1** from the kernel's own console timestamps (``--debug`` shows the hello);
* the jail alone: ``_jail.isolate()`` in a fresh ``python3 -I -S``, from the call to the forked worker running
  (``perf_counter`` is CLOCK_MONOTONIC, the same clock on both sides of the fork); root only;
* ``python3`` (the floor) and ``bwrap`` with comparable work (every namespace, the same read-only binds the jail
  makes, the 4 devices, no /proc, a worker uid): spawn -> heartbeat of the same file with the stand-in
  ``bench/floor/ukernel.py``; the difference is what bwrap adds.
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
FLOOR_DIR = os.path.join(ROOT, "bench", "floor")
STAMP = re.compile(rb"^\[\s*([0-9.]+)\]")
FLOOR_CODE = "import asyncio, main; raise SystemExit(asyncio.run(main.main()))"
sys.path.insert(0, os.path.join(ROOT, "python"))


def hello_to_heartbeat(cmd):
    """Seconds between the worker's hello and its 'heartbeat 1', from the kernel's timestamps; None if absent."""
    p = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
    marks = {}
    for line in p.stdout.splitlines():
        m = STAMP.match(line)
        if not m:
            continue
        for name, pattern in (("hello", b"connected to the kernel"), ("beat", b"heartbeat 1")):
            if name not in marks and pattern in line:
                marks[name] = float(m.group(1))
    if p.returncode != 0 or len(marks) != 2:
        return None, "exit %s: %s" % (p.returncode, p.stderr.decode("utf-8", "replace")[-400:])
    return marks["beat"] - marks["hello"], None


def spawn_to_heartbeat(cmd, env):
    start = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=HELLO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    seen = None
    for line in p.stdout:
        if seen is None and b"heartbeat 1" in line:
            seen = time.perf_counter() - start
    err = p.stderr.read().decode("utf-8", "replace")
    p.wait(60)
    if seen is None or p.returncode != 0:
        return None, "exit %s: %s" % (p.returncode, err.strip()[-400:])
    return seen, None


JAIL_CODE = """\
import os, socket, sys, time
sys.path.insert(0, %r)
from ukernel import _jail, _confine
a, b = socket.socketpair()
real_fork = os.fork
parent_cpu = []

def fork():  # the CPU P spent up to the fork; the child's own CPU clock starts at 0
    parent_cpu.append(time.process_time() - c)
    return real_fork()

os.fork = fork
t, c = time.perf_counter(), time.process_time()
_jail.isolate(os.getcwd(), "on", 2000000001, a.fileno(), 0)
print((time.perf_counter() - t) * 1000, (parent_cpu[0] + time.process_time()) * 1000, flush=True)
"""


def jail_alone(py):
    r = subprocess.run([py, "-I", "-S", "-c", JAIL_CODE % os.path.join(ROOT, "python")], cwd=HELLO,
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()[-300:]
    wall, cpu = r.stdout.strip().splitlines()[-1].split()
    JAIL_CPU.append(float(cpu) / 1000)
    return float(wall) / 1000, None


JAIL_CPU = []  # seconds of CPU (P up to the fork + C up to the app), insensitive to waiting for a CPU


def bwrap_command(bwrap, py):
    """bwrap doing what the jail does: every namespace, the jail's read-only binds, 4 devices, a worker uid."""
    from ukernel import _jail

    paths, links = _jail.view(HELLO)
    paths = sorted(set(paths) | {os.path.realpath(FLOOR_DIR)})
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--uid", "2000000001", "--gid",
           "2000000001", "--hostname", "ukernel"]
    for link, target in sorted(links.items()):
        cmd += ["--symlink", target, link]
    for p in paths:
        cmd += ["--ro-bind", p, p]
    for dev in _jail.DEVICES:
        cmd += ["--dev-bind", dev, dev]
    cmd += ["--remount-ro", "/", "--chdir", HELLO, py, "-B", "-c", FLOOR_CODE]
    return cmd


LOAD = []


def med(ts):
    return statistics.median(ts) * 1000


def main():
    reps, baseline = 10, None
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "-n":
            reps = int(args.pop(0))
        elif a == "--baseline":
            baseline = args.pop(0)
    py = subprocess.run(["python3", "-I", "-S", "-c", "import sys; print(sys.executable)"], capture_output=True,
                        text=True, check=True).stdout.strip()
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HEARTBEATS": "1",
           "PYTHONPATH": FLOOR_DIR + os.pathsep + os.path.join(HELLO, "src")}
    uk = [os.path.join(ROOT, "ukernel"), "run", HELLO, "--debug", "-e", "HEARTBEATS=1"]
    inner = {"ukernel strict (namespaces + Landlock + seccomp)": uk,
             "ukernel --insecure-no-sandbox": uk + ["--insecure-no-sandbox"]}
    if baseline:
        inner["baseline strict (Landlock + seccomp, %s)" % baseline] = [baseline, "run", HELLO, "--debug", "-e",
                                                                       "HEARTBEATS=1"]
    outer = {"python3 (floor)": [py, "-B", "-c", FLOOR_CODE]}
    skipped = {"nsjail": "not packaged by Debian 12 (bookworm); not measured"}
    bwrap = shutil.which("bwrap")
    if bwrap:
        outer["bwrap, comparable work"] = bwrap_command(bwrap, py)
    else:
        skipped["bwrap"] = "not installed (apt-get install bubblewrap)"
    results = {name: [] for name in list(inner) + list(outer) + ["_jail.isolate() alone"]}
    runs = [(n, lambda c=c: hello_to_heartbeat(c)) for n, c in inner.items()]
    runs += [(n, lambda c=c: spawn_to_heartbeat(c, env)) for n, c in outer.items()]
    if os.geteuid() == 0:
        runs.append(("_jail.isolate() alone", lambda: jail_alone(py)))
    LOAD.append(open("/proc/loadavg").read().split()[:3])
    for name, fn in runs:  # warm-up, and what cannot run here
        t, err = fn()
        if t is None:
            skipped[name] = err
    runs = [(n, fn) for n, fn in runs if n not in skipped]
    for _ in range(reps):
        for name, fn in runs:
            t, _ = fn()
            if t is not None:
                results[name].append(t)
    print("worker start-up with and without namespaces (%d interleaved runs each, warm)" % reps)
    print("%-70s %9s %9s" % ("", "min ms", "median ms"))
    for name, ts in results.items():
        if ts:
            print("%-70s %9.1f %9.1f" % (name + (": hello -> heartbeat" if name in inner else
                                                 ": spawn -> heartbeat" if name in outer else ""),
                                         min(ts) * 1000, med(ts)))
    if JAIL_CPU:
        print("%-70s %9.1f %9.1f" % ("_jail.isolate() alone, CPU time (P + C)", min(JAIL_CPU) * 1000, med(JAIL_CPU)))
    print("load average before the runs: %s; after: %s" % (LOAD[0], open("/proc/loadavg").read().split()[:3]))
    strict = results.get("ukernel strict (namespaces + Landlock + seccomp)")
    base = [v for k, v in results.items() if k.startswith("baseline strict")]
    if strict and base and base[0]:
        print("%-70s %19.1f  (ratio %.2fx)" % ("namespaces cost: strict - baseline strict (medians)",
                                              med(strict) - med(base[0]), med(strict) / med(base[0])))
    if results.get("bwrap, comparable work") and results.get("python3 (floor)"):
        b, f = results["bwrap, comparable work"], results["python3 (floor)"]
        print("%-70s %19.1f  (ratio %.2fx)" % ("bwrap cost: bwrap - python3 (medians)", med(b) - med(f),
                                              med(b) / med(f)))
    for name, why in skipped.items():
        print("%s: not measured: %s" % (name, why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
