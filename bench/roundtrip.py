"""ABI round-trip benchmark: time_monotonic_ns calls/s from Python through ukernel, against a raw socketpair ping-pong.

    python3 bench/roundtrip.py [--calls N] [--reps R] [--rounds K] [--no-pin]     (or bench/roundtrip.sh)

ukernel: ``./ukernel run bench/apps/roundtrip`` times N sequential ``ukernel.time_monotonic_ns()`` calls, R times,
then the same number of calls in batches of 64 (``with ukernel.client().batch() as b``), and logs one RESULT
line per repetition. floor: bench/floor/pingpong.py, a forked child answering each 12-byte request with a 21-byte
reply (the size of the kernel's time_monotonic_ns reply) over socket.socketpair(), timed over the same N.

The two alternate K times (floor, ukernel, floor, ukernel, ...), in three placements: as the scheduler places
them (the figure); all on CPU 0 (taskset -c 0: no cross-CPU wake-up, the software path alone); and split, the
caller on CPU 0 and the server on CPU 1 (the ping-pong child, or the JVM: every round trip wakes the other CPU
twice; N/2 calls, as this is the slow case). Last, the Python side of one call is timed without a peer
(bench/floor/adapter_cost.py).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading

from machine import busy_note

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = "bench/apps/roundtrip"
RUN_TIMEOUT = 90.0
RESULT = re.compile(r"RESULT (\S+) rep=(\d+) calls=(\d+) ns=(\d+) calls_per_s=(\d+)")
PART = re.compile(r"PART (\S+) ns_per_call=(\d+)")
BATCH = 64


class Failed(Exception):
    pass


def run(cmd, what):
    """Runs cmd to completion (bounded); returns its stdout. Fails with its output when it fails."""
    p = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    dog = threading.Timer(RUN_TIMEOUT, p.kill)
    dog.start()
    try:
        out, err = p.communicate()
    finally:
        dog.cancel()
    if p.returncode != 0:
        tail = "\n".join((out + err).strip().splitlines()[-12:])
        raise Failed("%s failed (exit status %d%s):\n%s" % (
            what, p.returncode, ", killed after %.0f s" % RUN_TIMEOUT if p.returncode == -9 else "", tail))
    return out


def results(out, what):
    found = {}
    for m in RESULT.finditer(out):
        found.setdefault(m.group(1), []).append(int(m.group(3)) * 1e9 / int(m.group(4)))
    if not found:
        raise Failed("%s printed no RESULT line:\n%s" % (what, out[-2000:]))
    return found


def fmt(rates):
    return "%10.0f %10.0f %10.0f" % (min(rates), statistics.median(rates), max(rates))


def measure(placement, calls, args, py):
    """Alternates floor and ukernel runs. placement: None (as scheduled), "same" (both on CPU 0) or "split"
    (caller / worker on CPU 0, the echoing child / the JVM on CPU 1)."""
    prefix = {"same": ["taskset", "-c", "0"], "split": ["taskset", "-c", "1"]}.get(placement, [])
    floor_cmd = ([] if placement == "split" else prefix) + [py, "bench/floor/pingpong.py", str(calls),
                                                            str(args.reps)] + (["0", "1"] if placement == "split" else [])
    uk_cmd = prefix + ["./ukernel", "run", APP, "-e", "CALLS=%d" % calls, "-e", "REPS=%d" % args.reps,
                       "-e", "BATCH=%d" % BATCH] + (["-e", "PIN_CPU=0"] if placement == "split" else [])
    rates = {}
    for _ in range(args.rounds):
        for name, cmd in (("floor", floor_cmd), ("ukernel", uk_cmd)):
            for variant, r in results(run(cmd, " ".join(cmd)), " ".join(cmd)).items():
                rates.setdefault(variant, []).extend(r)
    return rates


def report(title, rates):
    floor, single, batch = rates["floor"], rates["single"], rates["batch%d" % BATCH]
    print()
    print(title)
    print("  %-52s %10s %10s %10s" % ("calls/s", "min", "median", "max"))
    print("  %-52s %s" % ("floor: socketpair ping-pong, 2 Python processes", fmt(floor)))
    print("  %-52s %s" % ("ukernel: time_monotonic_ns, one call at a time", fmt(single)))
    print("  %-52s %s" % ("ukernel: time_monotonic_ns, batches of %d" % BATCH, fmt(batch)))
    f = statistics.median(floor)
    print("  per call (median): floor %.1f us, ukernel %.1f us, batched %.2f us"
          % (1e6 / f, 1e6 / statistics.median(single), 1e6 / statistics.median(batch)))
    return statistics.median(single) / f, statistics.median(batch) / f


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=50000, help="calls per repetition (default 50000, ~2-3 s here)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per run (default 3)")
    ap.add_argument("--rounds", type=int, default=2, help="floor/ukernel alternations (default 2)")
    ap.add_argument("--no-pin", action="store_true", help="skip the two pinned passes")
    args = ap.parse_args()
    if min(args.calls, args.reps, args.rounds) < 1 or args.calls < BATCH:
        ap.error("--calls must be at least %d, --reps and --rounds at least 1" % BATCH)
    if not os.access(os.path.join(ROOT, "ukernel"), os.X_OK):
        raise Failed("%s/ukernel is missing or not executable" % ROOT)
    py = sys.executable

    note = busy_note()
    if note:
        print(note, flush=True)
    print("warm-up: ./ukernel run %s (builds the CLI and the bundle when stale)..." % APP, flush=True)
    results(run(["./ukernel", "run", APP, "-e", "CALLS=2000", "-e", "REPS=1", "-e", "WARMUP=2000"],
                "./ukernel run " + APP + " (warm-up)"), "./ukernel run " + APP + " (warm-up)")

    passes = [("as scheduled (2 CPUs)", None, args.calls)]
    if not args.no_pin:
        if shutil.which("taskset") and len(os.sched_getaffinity(0)) >= 2:
            passes.append(("same CPU (all on CPU 0)", "same", args.calls))
            passes.append(("split CPUs (caller on CPU 0, server on CPU 1)", "split", max(BATCH, args.calls // 2)))
        else:
            print("(taskset not found or fewer than 2 CPUs: the pinned passes are skipped)")
    ratios = []
    for label, placement, calls in passes:
        rates = measure(placement, calls, args, py)
        n = len(rates["floor"])
        ratios.append((label, report("ABI round trip, %s: %d calls x %d samples each, interleaved"
                                     % (label, calls, n), rates)))

    parts = {m.group(1): int(m.group(2)) for m in PART.finditer(
        run([py, "bench/floor/adapter_cost.py"], "bench/floor/adapter_cost.py"))}
    if {"raw", "client", "module"} <= parts.keys():
        print()
        print("the Python side of one call, no peer process (replies queued ahead; bench/floor/adapter_cost.py)")
        print("  raw send + recv_into %d ns; ukernel Client.time_monotonic_ns %d ns; ukernel.time_monotonic_ns %d ns"
              % (parts["raw"], parts["client"], parts["module"]))
        print("  => the adapter adds %d ns per call on the worker's side" % (parts["module"] - parts["raw"]))

    print()
    for label, (single, batch) in ratios:
        print("RATIO roundtrip ukernel/floor, %s: single %.2fx (target >= 0.7x), batched(%d) %.2fx"
              % (label, single, BATCH, batch))
    note = busy_note()
    if note:
        print(note.replace("before the benchmark starts", "now, after the benchmark"))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as e:
        print("bench/roundtrip: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
