"""How much a task at its limits delays another: the bystander's round trip under each exhaustion attack.

Each attack of the adversarial suite (``python/tests/adversarial/test_exhaustion.py``, same attacker code) runs in
a spawned task of a real kernel while the main task, the bystander, times channel ping-pongs through the kernel
(``ipc_send`` then ``ipc_recv``, one round trip each, ``perf_counter_ns`` in the worker) in windows of 200 and logs
each window's median, 99th percentile and maximum. Windows before the attacker is spawned are the **unloaded**
baseline of the same run; windows between the attacker's start and its ``attack: done`` line are **attacking**;
windows after it, while the attacker holds what it got (until this script sends it SIGUSR1), are **holding**.
Printed per attack: the median of the window medians and the largest maximum per phase, and the ratios against
the unloaded phase of the same run. Nothing is asserted.

    python3 bench/exhaustion.py [--held-windows N]
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python", "tests", "adversarial"))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import test_exhaustion as attacks  # noqa: E402  (the attackers and the console reader)
from _harness import LAUNCHER, host_can_confine, make_app, text  # noqa: E402
from machine import busy_note  # noqa: E402

BYSTANDER = """\
import time
import ukernel

def window(p, q):
    ts = []
    for _ in range(200):
        t0 = time.perf_counter_ns()
        ukernel.ipc_send(p, b"ping")
        ukernel.ipc_recv(q)
        ts.append(time.perf_counter_ns() - t0)
    ts.sort()
    return "WINDOW %d %d %d" % (ts[100], ts[197], ts[-1])

def main():
    ukernel.cap_acquire("LOG", "TIME", "TASK", "IPC", "IO", "NET")
    p, q = ukernel.ipc_channel_create()
    for _ in range(20):
        window(p, q)  # warm-up
    for _ in range(30):
        ukernel.info("unloaded " + window(p, q))
    attacker = ukernel.task_spawn("attacker", ["LOG", "TIME", "IPC", "IO", "NET"])
    ukernel.info("spawned the attacker")
    while not ukernel.poll([(attacker, ukernel.EV_READABLE)], 0):
        ukernel.info(window(p, q))
    return 0
"""

ATTACKS = [
    ("pipelined unread replies (1500 × 1 MiB)", attacks.PIPELINE, "", ["PAIRS=1500"]),
    ("handles parked in queues (handles = 64)", attacks.HANDLES, "handles = 64", []),
    ("handles in nested queues (handles = 64)", attacks.HANDLES, "handles = 64", ["NESTED=1"]),
    ("bytes behind moved ends", attacks.MOVED_BYTES, "", []),
    ("300 polls × 1024 duplicates", attacks.POLLS, "", []),
    ("one 768 MiB stdout line", attacks.ENDLESS_LINE, "", ["MIB=768"]),
    ("400 unread TCP connections", attacks.SOCKETS, "", ["SOCKETS=400"]),
]


def run(name, attacker, limits, env, held_windows):
    tmp = tempfile.mkdtemp(prefix="ukernel-exhaustion-")
    try:
        app = make_app(os.path.join(tmp, "app"), BYSTANDER, manifest=attacks.MANIFEST.format(limits=limits),
                       files={"src/attacker.py": attacks.PRELUDE + attacker})
        os.mkdir(os.path.join(app, "data"))
        with open(os.path.join(app, "data", "blob"), "wb") as f:
            f.write(b"\x5a" * (1 << 20))
        args = [LAUNCHER, "run", str(app), "-q", "--log-format", "json"]
        if host_can_confine() is not None:
            args.append("--insecure-no-sandbox")
        for kv in env:
            args += ["-e", kv]
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, cwd=str(app))
        console = attacks.Console(app / "logs" / "console.log")
        try:
            done = console.wait(lambda l: text(l).startswith("attack: done"), proc)
            console.wait(lambda l: console.after(done, l) and sum(
                1 for x in console.lines[console.lines.index(done):] if text(x).startswith("WINDOW")) >= held_windows,
                proc)
            usage = attacks.kernel_usage(proc.pid)
            start = console.wait(lambda l: re.search(r"task attacker#\d+ started: pid \d+", text(l)), proc)
            os.kill(int(re.search(r"pid (\d+)", text(start)).group(1)), signal.SIGUSR1)
            proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        lines = console.read()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    phases = {"unloaded": [], "attacking": [], "holding": []}
    phase = "unloaded"
    for l in lines:
        t = text(l)
        if t == "spawned the attacker":
            phase = "attacking"
        elif t.startswith("attack: done"):
            phase = "holding"
        m = re.search(r"WINDOW (\d+) (\d+) (\d+)", t)
        if m:
            phases[phase].append(tuple(int(x) / 1000 for x in m.groups()))
    return phases, usage


def summary(windows):
    if not windows:
        return None
    return (statistics.median(w[0] for w in windows), statistics.median(w[1] for w in windows),
            max(w[2] for w in windows), len(windows))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--held-windows", type=int, default=30, help="windows timed while the attacker holds")
    a = ap.parse_args()
    note = busy_note()
    if note:
        print(note)
    print("bystander round trip (ipc_send + ipc_recv), µs: median of window medians / median of window p99 / "
          "largest max (windows of 200)")
    print("| attack | unloaded p50 / p99 / max | attacking p50 / p99 / max | holding p50 / p99 / max | "
          "p50 ratio attacking, holding | max ratio holding | kernel peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for name, attacker, limits, env in ATTACKS:
        phases, usage = run(name, attacker, limits, env, a.held_windows)
        s = {k: summary(v) for k, v in phases.items()}
        base = s["unloaded"]

        def fmt(x):
            return "—" if x is None else "%.1f / %.1f / %.0f (%d)" % x

        def ratio(x, i):
            return "—" if x is None else "%.2f×" % (x[i] / base[i])

        print("| %s | %s | %s | %s | %s, %s | %s | %d MiB |" % (
            name, fmt(base), fmt(s["attacking"]), fmt(s["holding"]), ratio(s["attacking"], 0),
            ratio(s["holding"], 0), ratio(s["holding"], 2), usage["hwm"] >> 20), flush=True)
    note = busy_note()
    if note:
        print(note)


if __name__ == "__main__":
    main()
