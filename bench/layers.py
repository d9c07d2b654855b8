"""What the sandbox layers cost a running worker: ABI calls/s (bench/apps/roundtrip) with every layer on (strict:
namespaces, worker uid, Landlock, the seccomp allow-list) against the same app with ``--insecure-no-sandbox``,
alternating, in one run. The start-up side of the layers is bench/namespaces.sh.

    python3 bench/layers.py [--calls N] [--rounds K]

Prints the median calls/s of each mode (one call at a time, and in batches of 64) and their ratio, strict over
insecure: the floor here is the same kernel without the layers, so the ratio is the layers' cost alone.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

from machine import busy_note

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT = re.compile(r"RESULT (\S+) rep=\d+ calls=(\d+) ns=(\d+)")


def one(mode, calls):
    cmd = ["./ukernel", "run", "bench/apps/roundtrip", "-q", "-e", "CALLS=%d" % calls, "-e", "REPS=3"]
    if mode == "insecure":
        cmd.append("--insecure-no-sandbox")
    p = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        sys.exit("bench/layers.py: %s run failed (exit %d):\n%s" % (mode, p.returncode, (p.stdout + p.stderr)[-2000:]))
    got = {}
    log = open(os.path.join(ROOT, "bench/apps/roundtrip/logs/console.log"), encoding="utf-8").read()
    for m in RESULT.finditer(log):
        got.setdefault(m.group(1), []).append(int(m.group(2)) * 1e9 / int(m.group(3)))
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=50000)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    note = busy_note()
    if note:
        print(note)
    rates = {"strict": {}, "insecure": {}}
    for _ in range(args.rounds):
        for mode in ("insecure", "strict"):
            for variant, values in one(mode, args.calls).items():
                rates[mode].setdefault(variant, []).extend(values)
    print("ABI calls/s, median of %d repetitions per mode (%d calls each)" % (3 * args.rounds, args.calls))
    print("%-10s %14s %14s %8s" % ("variant", "insecure", "strict", "ratio"))
    for variant in sorted(rates["strict"]):
        s = statistics.median(rates["strict"][variant])
        i = statistics.median(rates["insecure"][variant])
        print("%-10s %14.0f %14.0f %7.2fx" % (variant, i, s, s / i))


if __name__ == "__main__":
    main()
