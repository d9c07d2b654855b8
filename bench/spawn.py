"""What running a program costs a confined worker (``[caps] subprocess``): N spawns of ``/bin/true`` with
``asyncio.create_subprocess_exec`` + ``wait()`` and N with ``subprocess.run``, each timed inside the worker (the
median of the N), under
``ukernel run`` strict (namespaces, Landlock, seccomp: the child inherits them), ``--insecure-no-sandbox``, and the
floor: the same code in a bare ``python3`` with asyncio's own loop. Rounds alternate the three; the medians of the
rounds, and each ukernel row as a ratio to the floor of the same run.

Usage: bench/spawn.sh [-n ROUNDS] [-s SPAWNS]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, "ukernel")

CODE = """\
import asyncio, os, subprocess, sys, time

N = int(os.environ.get("SPAWNS", "200"))


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


async def spawns():
    a = []
    for _ in range(N):
        t = time.perf_counter()
        p = await asyncio.create_subprocess_exec("/bin/true")
        await p.wait()
        a.append(time.perf_counter() - t)
    r = []
    for _ in range(N):
        t = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        r.append(time.perf_counter() - t)
    return median(a), median(r)  # per spawn: a loaded machine's outliers do not decide


def report(a, r):
    return "SPAWN asyncio %.6f run %.6f" % (a, r)
"""

APP_MAIN = CODE + """
import ukernel


async def main():
    ukernel.cap_acquire("LOG")
    ukernel.info(report(*(await spawns())))
"""

BARE_MAIN = CODE + """
print(report(*asyncio.run(spawns())))
"""

LINE = re.compile(r"SPAWN asyncio ([0-9.]+) run ([0-9.]+)")


def ukernel(app, spawns, insecure):
    args = [LAUNCHER, "run", app, "-q", "-e", "SPAWNS=%d" % spawns] + (["--insecure-no-sandbox"] if insecure else [])
    p = subprocess.run(args, cwd=app, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    log = os.path.join(app, "logs", "console.log")
    text = open(log, encoding="utf-8", errors="replace").read() if os.path.exists(log) else ""
    m = LINE.search(text)
    if p.returncode != 0 or m is None:
        raise SystemExit("ukernel run failed (%s):\n%s\n%s" % (p.returncode, text[-2000:], p.stderr[-2000:]))
    return float(m.group(1)), float(m.group(2))


def bare(script, spawns):
    p = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, SPAWNS=str(spawns)))
    m = LINE.search(p.stdout)
    if m is None:
        raise SystemExit("bare run failed: %s" % p.stderr[-2000:])
    return float(m.group(1)), float(m.group(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("-s", type=int, default=200, help="spawns per measurement (default 200)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="uk-subprocess-bench-") as tmp:
        app = os.path.join(tmp, "app")
        os.makedirs(os.path.join(app, "src"))
        with open(os.path.join(app, "ukernel.toml"), "w") as f:
            f.write(textwrap.dedent("""\
                name = "spawnbench"
                entry = "src/main.py"
                [caps]
                grant = ["LOG"]
                subprocess = ["/bin/true"]
                """))
        with open(os.path.join(app, "src", "main.py"), "w") as f:
            f.write(APP_MAIN)
        script = os.path.join(tmp, "bare.py")
        with open(script, "w") as f:
            f.write(BARE_MAIN)
        rows = {"strict": [], "insecure": [], "bare": []}
        for _ in range(a.n):
            rows["strict"].append(ukernel(app, a.s, False))
            rows["insecure"].append(ukernel(app, a.s, True))
            rows["bare"].append(bare(script, a.s))
    floor = [statistics.median(x[i] for x in rows["bare"]) for i in (0, 1)]
    print("%d rounds x %d spawns of /bin/true; per spawn, medians (min)" % (a.n, a.s))
    print("| row | asyncio.create_subprocess_exec + wait | ratio | subprocess.run | ratio |")
    print("|---|---|---|---|---|")
    for name in ("bare", "insecure", "strict"):
        med = [statistics.median(x[i] for x in rows[name]) for i in (0, 1)]
        low = [min(x[i] for x in rows[name]) for i in (0, 1)]
        print("| %s | %.2f ms (%.2f) | %.2fx | %.2f ms (%.2f) | %.2fx |" % (
            name, med[0] * 1e3, low[0] * 1e3, med[0] / floor[0], med[1] * 1e3, low[1] * 1e3, med[1] / floor[1]))


if __name__ == "__main__":
    main()
