"""Start-up benchmark: process start to the first heartbeat line of examples/hello, ukernel against bare python3.

    python3 bench/startup.py [-n RUNS]        (or bench/startup.sh)

ukernel: ``./ukernel run examples/hello -e HEARTBEATS=1``; the clock runs from just before the process is spawned
to the moment the stdout line containing ``heartbeat 1`` is read (stdout is read as it streams), and to the
process's exit. A warm-up run first builds the CLI and the bundle when stale, so the runs measure a warm,
already-built app; a run that rebuilt anything anyway (someone edited a source meanwhile) is discarded and redone.

floor: the same file, examples/hello/src/main.py, run by the same CPython the kernel uses (``sys.executable`` of
``python3``, not a version-manager shim), its ``main()`` under ``asyncio.run``, with the stand-in module
bench/floor/ukernel.py on PYTHONPATH. A second floor runs it with the worker's flags (-I -S).

The kernel prefixes its lines with seconds since kernel boot; with the arrival time of each line that splits the
ukernel figure into phases (printed under "where the time goes").
"""

import argparse
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from machine import busy_note

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOOR_DIR = os.path.join(ROOT, "bench", "floor")
HELLO_SRC = os.path.join(ROOT, "examples", "hello", "src")
UKERNEL_CMD = ["./ukernel", "run", "examples/hello", "-e", "HEARTBEATS=1"]
RUN_TIMEOUT = 30.0

HEARTBEAT = re.compile(rb"\bheartbeat 1\b")
PREFIX = re.compile(rb"^\[\s*(\d+\.\d+)\]")
REBUILT = (b"rebuilding the CLI", b"building the CLI", b"ukernel: built ", b"start-up cache")
FLOOR_CODE = "import asyncio, main; raise SystemExit(asyncio.run(main.main()))"
FLOOR_ISOLATED_CODE = ("import sys; sys.path[0:0] = [%r, %r]; " % (FLOOR_DIR, HELLO_SRC)) + FLOOR_CODE


class Failed(Exception):
    pass


class Run:
    """One timed run: every stdout line with its arrival time, the heartbeat time, the total, the status."""

    def __init__(self, lines, heartbeat, total, rc, stderr, cmdline):
        self.lines = lines  # [(seconds since spawn, line bytes)]
        self.heartbeat = heartbeat
        self.total = total
        self.rc = rc
        self.stderr = stderr
        self.cmdline = cmdline  # argv of the process once exec'd (the launcher execs java)


def timed_run(cmd, env=None):
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=err, bufsize=0)
        fd = p.stdout.fileno()
        lines, pending, heartbeat, cmdline = [], b"", None, None
        try:
            while True:
                left = t0 + RUN_TIMEOUT - time.perf_counter()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise Failed("%s did not finish within %.0f s" % (" ".join(cmd), RUN_TIMEOUT))
                chunk = os.read(fd, 65536)
                now = time.perf_counter() - t0
                if not chunk:
                    break
                if cmdline is None:
                    cmdline = _cmdline(p.pid)
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    lines.append((now, line))
                    if heartbeat is None and HEARTBEAT.search(line):
                        heartbeat = now
            rc = wait(p, t0 + RUN_TIMEOUT - time.perf_counter())
            total = time.perf_counter() - t0
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
        err.seek(0)
        stderr = err.read()
    return Run(lines, heartbeat, total, rc, stderr, cmdline)


def wait(p, seconds):
    """p.wait() bounded by a watchdog: Popen.wait(timeout=...) polls with sleeps, which would skew the figure."""
    dog = threading.Timer(max(1.0, seconds), p.kill)
    dog.start()
    try:
        return p.wait()
    finally:
        dog.cancel()


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def check(run, what):
    if run.rc != 0 or run.heartbeat is None:
        tail = b"\n".join([l for _, l in run.lines[-8:]]) + b"\n" + run.stderr[-2000:]
        raise Failed("%s failed (exit status %s, %s):\n%s" % (
            what, run.rc, "no 'heartbeat 1' line" if run.heartbeat is None else "heartbeat seen",
            tail.decode("utf-8", "replace").strip()))
    return run


def ukernel_run():
    """A warm run of ./ukernel; rebuilt runs are discarded (returns None)."""
    run = check(timed_run(UKERNEL_CMD), "./ukernel run examples/hello")
    if any(m in run.stderr for m in REBUILT):
        return None
    return run


def python_exe():
    """The interpreter behind python3 (or $UKERNEL_PYTHON), as the CLI resolves it: its sys.executable."""
    py = os.environ.get("UKERNEL_PYTHON") or "python3"
    try:
        out = subprocess.run([py, "-I", "-S", "-c", "import sys; print(sys.executable)"], capture_output=True,
                             text=True, timeout=30)
    except OSError as e:
        raise Failed("cannot run %s: %s" % (py, e.strerror or e)) from None
    if out.returncode != 0 or not out.stdout.strip():
        raise Failed("cannot run %s: %s" % (py, out.stderr.strip()))
    return py, out.stdout.strip()


def phases(run):
    """The kernel's boot-relative prefixes of the milestones, and when kernel boot happened on our clock."""
    marks, offset = {}, None
    for arrival, line in run.lines:
        m = PREFIX.match(line)
        if not m:
            continue
        t = float(m.group(1))
        offset = arrival - t if offset is None else min(offset, arrival - t)  # tightest: least delivery delay
        if "first" not in marks:
            marks["first"] = t
        if b" started: pid " in line and "started" not in marks:
            marks["started"] = t
        if b"connected to the kernel" in line and "connected" not in marks:
            marks["connected"] = t
        if b"caps: acquired" in line and "caps" not in marks:
            marks["caps"] = t
        if HEARTBEAT.search(line) and "heartbeat" not in marks:
            marks["heartbeat"] = t
    marks["boot"] = offset
    return marks


def wall(cmd, reps, env=None):
    """Median and min wall seconds of cmd, run to completion reps times (after one warm-up)."""
    times = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        rc = wait(p, RUN_TIMEOUT)
        if rc != 0:
            raise Failed("%s failed with exit status %d" % (" ".join(cmd), rc))
        if i:
            times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def ms(x):
    return "%8.1f" % (x * 1000)


def row(label, values):
    print("  %-50s %s %s  ms" % (label, ms(min(values)), ms(statistics.median(values))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--runs", type=int, default=10, help="counted runs of each command (default 10)")
    ap.add_argument("--no-breakdown", action="store_true", help="skip the extra runs that split the figure")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if not os.access(os.path.join(ROOT, "ukernel"), os.X_OK):
        raise Failed("%s/ukernel is missing or not executable" % ROOT)

    py_cmd, py = python_exe()
    floor_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}  # plain python3
    floor_env.update(PYTHONPATH=FLOOR_DIR + os.pathsep + HELLO_SRC, HEARTBEATS="1")
    floors = {
        "floor: python3": [py, "-B", "-c", FLOOR_CODE],  # -B: write no __pycache__ into examples/
        "floor: python3 -I -S": [py, "-I", "-S", "-B", "-c", FLOOR_ISOLATED_CODE],
    }

    note = busy_note()
    if note:
        print(note, flush=True)
    print("warm-up: ./ukernel run examples/hello (builds the CLI and the bundle when stale)...", flush=True)
    check(timed_run(UKERNEL_CMD), "./ukernel run examples/hello (warm-up)")
    for name, cmd in floors.items():
        check(timed_run(cmd, floor_env), name + " (warm-up)")

    uk, discarded = [], 0
    fl = {name: [] for name in floors}
    for _ in range(args.runs):  # interleaved, so drift of the machine hits both alike
        run = None
        while run is None:
            run = ukernel_run()
            if run is None:
                discarded += 1
                if discarded > 5:
                    raise Failed("./ukernel kept rebuilding (sources are being edited?): no warm run possible")
        uk.append(run)
        for name, cmd in floors.items():
            fl[name].append(check(timed_run(cmd, floor_env), name))

    uk_hb = [r.heartbeat for r in uk]
    uk_total = [r.total for r in uk]
    main_floor = fl["floor: python3"]
    f_hb = [r.heartbeat for r in main_floor]

    print()
    print("start-up of examples/hello to its 'heartbeat 1' line (%d runs each, interleaved; warm, already built)"
          % args.runs)
    print("  %-50s %8s %8s" % ("", "min", "median"))
    row("ukernel run: to 'heartbeat 1'", uk_hb)
    row("ukernel run: total (to exit)", uk_total)
    for name, runs in fl.items():
        row(name + ": to 'heartbeat 1'", [r.heartbeat for r in runs])
        row(name + ": total", [r.total for r in runs])
    print("  interpreter: %s (python3 on PATH: %s)" % (py, shutil.which(py_cmd) or py_cmd))
    if discarded:
        print("  (%d run(s) discarded: the launcher rebuilt the CLI or the bundle)" % discarded)
    print()
    ratio_med = statistics.median(uk_hb) / statistics.median(f_hb)
    ratio_min = min(uk_hb) / min(f_hb)
    iso = [r.heartbeat for r in fl["floor: python3 -I -S"]]
    print("RATIO startup ukernel/python3 (to 'heartbeat 1'): median %.2fx, min %.2fx   (target <= 1.5x)"
          % (ratio_med, ratio_min))
    print("      against the -I -S floor: median %.2fx, min %.2fx; total wall ukernel/python3: median %.2fx"
          % (statistics.median(uk_hb) / statistics.median(iso), min(uk_hb) / min(iso),
             statistics.median(uk_total) / statistics.median([r.total for r in main_floor])))

    # -- where the time goes --------------------------------------------------------------------------------------
    print()
    print("where the time goes in 'ukernel run' (medians over the runs above; kernel prefixes + arrival times)")
    ph = [phases(r) for r in uk]

    def med(key_a, key_b):
        vals = [p[key_b] - p[key_a] for p in ph if key_a in p and key_b in p]
        return statistics.median(vals) if vals else float("nan")

    boot = statistics.median([p["boot"] for p in ph])
    if not args.no_breakdown:
        java_cmd = next((r.cmdline for r in uk if r.cmdline and "-jar" in r.cmdline), None)
        if java_cmd:
            jar_at = java_cmd.index("-jar")
            flags = [a for a in java_cmd[1:jar_at] if not a.startswith("-XX:AOTCache")]
            jvm = wall([java_cmd[0]] + flags + ["-version"], 5)
            jvm_cli = wall(java_cmd[:jar_at + 2] + ["--version"], 5)
            launcher_java = wall(["./ukernel", "--version"], 5)
            print("  %-62s %s ms" % ("launcher (bash: JDK selection, staleness check)",
                                      ms(launcher_java[1] - jvm_cli[1])))
            print("  %-62s %s ms" % ("bare JVM (java -version, same flags)", ms(jvm[1])))
            print("  %-62s %s ms" % ("CLI start: classes, picocli (java -jar .. --version - bare JVM)",
                                      ms(jvm_cli[1] - jvm[1])))
            print("  %-62s %s ms" % ("run: manifest, build-if-stale, bundle check, until kernel boot",
                                      ms(boot - launcher_java[1])))
        else:
            print("  (could not read the java command line; JVM/launcher split skipped)")
    print("  %-62s %s ms" % ("= spawn -> kernel boot (prefix 0)", ms(boot)))
    print("  %-62s %s ms" % ("kernel boot -> banner line", ms(statistics.median([p["first"] for p in ph]))))
    print("  %-62s %s ms" % ("banner -> 'task main#1 started' (endpoint, spawn python)", ms(med("first", "started"))))
    print("  %-62s %s ms" % ("worker started -> 'caps: acquired' (python, adapter, asyncio)", ms(med("started", "caps"))))
    print("  %-62s %s ms" % ("'caps: acquired' -> 'heartbeat 1'", ms(med("caps", "heartbeat"))))
    print("  %-62s %s ms" % ("'heartbeat 1' read -> process exit", ms(statistics.median(
        [r.total - r.heartbeat for r in uk]))))
    if not args.no_breakdown:
        # One run with --debug gives the worker's hello ("connected to the kernel"): python start vs the rest.
        dbg = check(timed_run(UKERNEL_CMD + ["--debug"]), "./ukernel run --debug")
        p = phases(dbg)
        if "connected" in p:
            print("  %-62s %s ms" % ("    one --debug run: started -> hello (python -I -S, adapter)",
                                      ms(p["connected"] - p["started"])))
            print("  %-62s %s ms" % ("    one --debug run: hello -> 'caps: acquired' (loader, asyncio)",
                                      ms(p["caps"] - p["connected"])))
    note = busy_note()
    if note:
        print(note.replace("before the benchmark starts", "now, after the benchmark"))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as e:
        print("bench/startup: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
