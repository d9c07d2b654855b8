"""What the task's view (python/ukernel/_environ.py, built by _jail) adds to the jail: wall time of
``_jail.isolate()`` in a fresh ``python3 -I -S``, from the call to the forked worker running, for

* the jail without a task view (the floor: the jail as it was before the view),
* the jail with the view: the task's tmpfs (/tmp and HOME) and the generated /etc (services, protocols and
  mime.types copied from the host),
* the same with one ``rw`` preopen (as root: a throw-away user namespace for the mapping, an idmapped mount).

N interleaved runs each (default 20), medians and minima, ratios to the floor of the same run. Root only.
Usage: python3 bench/taskview.py [-n RUNS]
"""

import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELLO = os.path.join(ROOT, "examples", "hello")

CODE = """\
import os, socket, sys, time
sys.path.insert(0, %r)
from ukernel import _jail, _environ
a, b = socket.socketpair()
mode, data = sys.argv[1], sys.argv[2]
task = None
if mode != "none":
    pre = [_environ.Preopen("data", data, True)] if mode == "preopen" else []
    task = _environ.TaskView(pre, 64 << 20)
t = time.perf_counter()
_jail.isolate(os.getcwd(), "on", 2000000001, a.fileno(), 0, task=task)
print((time.perf_counter() - t) * 1000, flush=True)
"""

ROWS = (("none", "jail, no task view (floor)"), ("view", "jail + task view: tmpfs /tmp+HOME, generated /etc"),
        ("preopen", "jail + task view + 1 rw preopen (idmapped mount)"))


def once(mode, data):
    r = subprocess.run([sys.executable, "-I", "-S", "-c", CODE % os.path.join(ROOT, "python"), mode, data],
                       cwd=HELLO, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("%s failed: %s" % (mode, r.stderr.strip()[-500:]))
    return float(r.stdout.split()[-1])


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench/taskview.py measures the root variant of the jail: run it as root")
    n = int(sys.argv[sys.argv.index("-n") + 1]) if "-n" in sys.argv else 20
    data = tempfile.mkdtemp(prefix="ukernel-bench-data-")
    try:
        for mode, _ in ROWS:  # warm-up
            once(mode, data)
        results = {mode: [] for mode, _ in ROWS}
        for _ in range(n):
            for mode, _ in ROWS:
                results[mode].append(once(mode, data))
    finally:
        for f in os.listdir(data):
            os.unlink(os.path.join(data, f))
        os.rmdir(data)
    floor = statistics.median(results["none"])
    print("load average after: %s; %d interleaved runs each" % (open("/proc/loadavg").read().split()[:3], n))
    print("%-55s %8s %8s %8s" % ("row", "min ms", "med ms", "ratio"))
    for mode, name in ROWS:
        med = statistics.median(results[mode])
        print("%-55s %8.1f %8.1f %7.2fx" % (name, min(results[mode]), med, med / floor))


if __name__ == "__main__":
    main()
