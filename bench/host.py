"""Warm-host benchmark: `ukernel run -d` of examples/hello to its first heartbeat, with the resident host already
running, against bare python3 and the foreground `ukernel run`.

    python3 bench/host.py [-n RUNS]        (or bench/host.sh)

The host is started once (`./ukernel host`, in a temporary UKERNEL_HOME: never the user's ~/.ukernel) and warmed
up with a few runs of the app. Then, interleaved, RUNS times each:

  run -d (CLI)   `./ukernel run -d --rm examples/hello -e HEARTBEATS=1` (the launcher's fast path; and again with
                 UKERNEL_NO_FAST_CLIENT=1, the JVM CLI): the clock runs from just before the
                 client is spawned to the wall-clock time of the instance's `heartbeat 1` line, which is the
                 instance's boot time (logs/<instance>/instance.json) plus the line's seconds-since-boot prefix.
  run -d (API)   the same request sent straight to the host's socket by this script (POST /apps): what a thin
                 client (a shell function with curl, a small native binary) would cost, without the ukernel JVM.
  foreground     `./ukernel run examples/hello -e HEARTBEATS=1` (bench/startup.py's measurement).
  floor          python3 running examples/hello/src/main.py with the stand-in ukernel module (bench/startup.py's).

It also reports the client alone (`./ukernel ps` against the host, the launcher's fast client and the JVM CLI),
the restart of a kill -9'd task to its first heartbeat (kernel prefixes) against its floor — a bare fork of a
python3 that has already imported asyncio and the app, to the child's 'heartbeat 1' — and the host's resident
memory per idle app. The host forks workers from warm templates (docs/host.md); UKERNEL_NO_TEMPLATES=1 in this
script's environment measures cold workers instead.
"""

import argparse
import json
import os
import re
import socket
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import startup
from machine import busy_note

ROOT = startup.ROOT
APP = os.path.join(ROOT, "examples", "hello")
LOGS = os.path.join(APP, "logs")
PREFIX = re.compile(r"^\[\s*(\d+\.\d+)\]")
TIMEOUT = 60.0


BOOTS = []  # request -> kernel boot (the instance's boot_wall_ms), per measured run


class Failed(Exception):
    pass


def api(sock_path, method, path, body=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    data = b"" if body is None else json.dumps(body).encode()
    s.sendall(("%s %s HTTP/1.1\r\nHost: ukernel\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
               % (method, path, len(data))).encode() + data)
    chunks = []
    while True:
        c = s.recv(65536)
        if not c:
            break
        chunks.append(c)
    s.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def instances():
    try:
        return {d for d in os.listdir(LOGS) if os.path.isfile(os.path.join(LOGS, d, "instance.json"))}
    except FileNotFoundError:
        return set()


def await_heartbeat(before, t0_wall):
    """Waits for a new instance's 'heartbeat 1' and its end; returns heartbeat wall time - t0_wall (seconds)."""
    deadline = time.monotonic() + TIMEOUT
    inst = None
    while time.monotonic() < deadline:
        if inst is None:
            new = instances() - before
            if new:
                inst = max(new)
        if inst is not None:
            d = os.path.join(LOGS, inst)
            try:
                with open(os.path.join(d, "console.log"), encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except FileNotFoundError:
                text = ""
            if "heartbeat 1 " in text and "ended with status" in text:
                with open(os.path.join(d, "instance.json")) as f:
                    boot = json.load(f)["boot_wall_ms"] / 1000.0
                for line in text.splitlines():
                    if "heartbeat 1 " in line:
                        BOOTS.append(boot - t0_wall)
                        return boot + float(PREFIX.match(line).group(1)) - t0_wall
        time.sleep(0.002)
    raise Failed("no 'heartbeat 1' and end in a new instance of %s within %.0f s (instance %s)" % (APP, TIMEOUT, inst))


def run_cli(env, name):
    before = instances()
    t0 = time.time()
    p = subprocess.run(["./ukernel", "run", "-d", "--rm", "--name", name, "examples/hello", "-e", "HEARTBEATS=1"],
                       cwd=ROOT, env=env, capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise Failed("run -d failed: %s" % (p.stdout + p.stderr).decode(errors="replace"))
    return await_heartbeat(before, t0)


def run_cli_jvm(env, name):
    env = dict(env, UKERNEL_NO_FAST_CLIENT="1")
    before = instances()
    t0 = time.time()
    p = subprocess.run(["./ukernel", "run", "-d", "--rm", "--name", name, "examples/hello", "-e", "HEARTBEATS=1"],
                       cwd=ROOT, env=env, capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise Failed("run -d failed: %s" % (p.stdout + p.stderr).decode(errors="replace"))
    return await_heartbeat(before, t0)


def run_api(sock_path, name):
    before = instances()
    t0 = time.time()
    status, body = api(sock_path, "POST", "/apps", {"dir": APP, "name": name, "env": {"HEARTBEATS": "1"},
                                                    "rm": True})
    if status != 201:
        raise Failed("POST /apps: %d %s" % (status, body.decode(errors="replace")))
    return await_heartbeat(before, t0)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


FORK_FLOOR_CODE = r"""
import asyncio, os, sys, time
import main  # imported once, as a template has
runs = int(sys.argv[1])
out = []
for _ in range(runs):
    r, w = os.pipe()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 1)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        code = asyncio.run(main.main())
        sys.stdout.flush()
        os._exit(code or 0)
    os.close(w)
    buf = b""
    seen = None
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        buf += chunk
        if seen is None and b"heartbeat 1" in buf:
            seen = time.monotonic()
    os.close(r)
    os.waitpid(pid, 0)
    out.append(seen - t0)
print(" ".join("%.6f" % x for x in out))
"""


def fork_floor(py, env, runs):
    """Seconds from fork() to the child's 'heartbeat 1' in a python3 that imported asyncio and the app first."""
    r = subprocess.run([py, "-B", "-c", FORK_FLOOR_CODE, str(runs)], env=env, capture_output=True, text=True,
                       timeout=TIMEOUT)
    if r.returncode != 0:
        raise Failed("the fork floor failed: " + r.stderr)
    return [float(x) for x in r.stdout.split()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--runs", type=int, default=10, help="counted runs of each (default 10)")
    args = ap.parse_args()
    note = busy_note()
    if note:
        print(note, flush=True)

    py_cmd, py = startup.python_exe()
    floor_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    floor_env.update(PYTHONPATH=startup.FLOOR_DIR + os.pathsep + startup.HELLO_SRC, HEARTBEATS="1")
    floor = [py, "-B", "-c", startup.FLOOR_CODE]

    print("warm-up: ./ukernel run examples/hello (builds the CLI and the bundle when stale)...", flush=True)
    startup.check(startup.timed_run(startup.UKERNEL_CMD), "./ukernel run examples/hello (warm-up)")

    home = tempfile.mkdtemp(prefix="ukernel-bench-host.")
    env = dict(os.environ, UKERNEL_HOME=home)
    sock = os.path.join(home, "host.sock")
    host_log = open(os.path.join(home, "host.out"), "wb")
    host = subprocess.Popen(["./ukernel", "host"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=host_log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(sock):
            if host.poll() is not None or time.monotonic() > deadline:
                raise Failed("the host did not start: see %s/host.out" % home)
            time.sleep(0.01)
        host_java = None
        for _ in range(500):
            try:
                status, body = api(sock, "GET", "/host")
            except ConnectionRefusedError:  # bound, not yet listening
                time.sleep(0.01)
                continue
            if status == 200:
                host_java = json.loads(body)["pid"]
                break
            time.sleep(0.01)
        print("host: pid %s; warming it up with 5 runs..." % host_java, flush=True)
        for i in range(5):
            run_api(sock, "warm%d" % i)

        cli, jvm, via_api, fg, fl = [], [], [], [], []
        boots = {"cli": [], "jvm": [], "api": []}
        hb = {"cli": cli, "jvm": jvm, "api": via_api}
        for i in range(args.runs):
            for key, fn, arg in (("cli", run_cli, env), ("jvm", run_cli_jvm, env), ("api", run_api, sock)):
                hb[key].append(fn(arg, "%s%d" % (key, i)))
                boots[key].append(BOOTS[-1])
            fg.append(startup.check(startup.timed_run(startup.UKERNEL_CMD), "./ukernel run").heartbeat)
            fl.append(startup.check(startup.timed_run(floor, floor_env), "floor").heartbeat)
        ps = startup.wall(["./ukernel", "ps"], args.runs, env=env)
        ps_jvm = startup.wall(["./ukernel", "ps"], args.runs, env=dict(env, UKERNEL_NO_FAST_CLIENT="1"))
        forks = fork_floor(py, floor_env, args.runs)

        # restart of a crashed task -> its first heartbeat: a copy of hello restarted on failure with no back-off;
        # kill -9 of its worker, then the kernel's own prefixes: the exit line to the next 'heartbeat 1'
        crash_app = os.path.join(home, "crashy")
        shutil.copytree(APP, crash_app, ignore=shutil.ignore_patterns("build", "logs"))
        with open(os.path.join(crash_app, "ukernel.toml"), "a") as f:
            f.write("\n")
        toml = open(os.path.join(crash_app, "ukernel.toml")).read().replace(
            'policy = "no"', 'policy = "always"\nbackoff_ms = 0\nbackoff_max_ms = 0')
        open(os.path.join(crash_app, "ukernel.toml"), "w").write(toml)
        status, body = api(sock, "POST", "/apps", {"dir": crash_app, "name": "crashy", "env": {}})
        if status != 201:
            raise Failed("POST /apps (crashy): %d %s" % (status, body))
        crash_log = json.loads(body)["log"]
        restarts = []
        for i in range(args.runs):
            pid = None
            deadline = time.monotonic() + TIMEOUT
            while pid is None and time.monotonic() < deadline:
                st, b = api(sock, "GET", "/apps/crashy")
                for t in json.loads(b)["tasks"]:
                    if t["state"] == "running" and t["pid"] > 0 and t["restarts"] == i:
                        pid = t["pid"]
                if pid is None:
                    time.sleep(0.01)
            if pid is None:
                raise Failed("crashy's worker did not run (restart %d)" % i)
            with open(crash_log) as f:
                beats_before = f.read().count("heartbeat 1 ")
            while beats_before == 0 and time.monotonic() < deadline:   # its first heartbeat before the kill
                time.sleep(0.01)
                with open(crash_log) as f:
                    beats_before = f.read().count("heartbeat 1 ")
            os.kill(pid, 9)
            while time.monotonic() < deadline:
                with open(crash_log) as f:
                    text = f.read()
                if text.count("heartbeat 1 ") > beats_before:
                    break
                time.sleep(0.01)
            exit_t = hb_t = None
            for line in text.splitlines():
                m = PREFIX.match(line)
                if not m:
                    continue
                if "exited with status 137" in line:
                    exit_t, hb_t = float(m.group(1)), None
                elif exit_t is not None and hb_t is None and "heartbeat 1 " in line:
                    hb_t = float(m.group(1))
            if exit_t is None or hb_t is None:
                raise Failed("no restart after kill -9 in %s" % crash_log)
            restarts.append(hb_t - exit_t)

        # resident memory of the host per idle app (the kernel objects, threads, console; workers not counted)
        rss0 = rss_kib(host_java)
        idle = 5
        for i in range(idle):
            status, body = api(sock, "POST", "/apps", {"dir": APP, "name": "idle%d" % i, "env": {}})
            if status != 201:
                raise Failed("POST /apps (idle): %d %s" % (status, body))
        time.sleep(2.0)  # the apps boot and their workers connect (memory, not a timing figure)
        rss1 = rss_kib(host_java)
        status, body = api(sock, "GET", "/apps")
        worker_rss = [t["rss_bytes"] for a in json.loads(body) if a["name"].startswith("idle")
                      for t in a["tasks"] if t["pid"] > 0]
    except BaseException as e:
        print("bench/host: %s: %s (host output: %s/host.out)" % (type(e).__name__, e, home), file=sys.stderr)
        raise
    finally:
        stop = subprocess.run(["timeout", str(int(TIMEOUT)), "./ukernel", "host", "stop"], cwd=ROOT, env=env,
                              capture_output=True)
        if stop.returncode != 0:
            print("bench/host: host stop (exit %d): %s" % (stop.returncode, (stop.stdout + stop.stderr).decode(errors="replace")),
                  file=sys.stderr)
        if host.poll() is None:
            host.terminate()
            host.wait(TIMEOUT)
        host_log.close()

    med = statistics.median
    print()
    print("examples/hello to its 'heartbeat 1' (%d runs each, interleaved; warm host, app already built)" % args.runs)
    print("  %-60s %8s %8s" % ("", "min", "median"))
    for label, vals in [("./ukernel run -d (launcher fast path, Python client)", cli),
                        ("  of which: request -> kernel boot in the host", boots["cli"]),
                        ("./ukernel run -d with UKERNEL_NO_FAST_CLIENT=1 (JVM CLI)", jvm),
                        ("  of which: request -> kernel boot in the host", boots["jvm"]),
                        ("run -d via the API (POST /apps from this script)", via_api),
                        ("  of which: request -> kernel boot in the host", boots["api"]),
                        ("foreground ./ukernel run -> heartbeat", fg),
                        ("floor: python3 -> heartbeat", fl)]:
        print("  %-60s %s %s  ms" % (label, startup.ms(min(vals)), startup.ms(med(vals))))
    print("  %-60s %s %s  ms" % ("client alone: ./ukernel ps against the host (wall)", startup.ms(ps[0]),
                                  startup.ms(ps[1])))
    print("  %-60s %s %s  ms" % ("  the same with UKERNEL_NO_FAST_CLIENT=1 (JVM CLI)", startup.ms(ps_jvm[0]),
                                  startup.ms(ps_jvm[1])))
    print("  %-60s %s %s  ms" % ("restart of a kill -9'd task: exit seen -> its 'heartbeat 1'",
                                  startup.ms(min(restarts)), startup.ms(med(restarts))))
    print("  %-60s %s %s  ms" % ("floor: fork of an imported python3 -> child's 'heartbeat 1'",
                                  startup.ms(min(forks)), startup.ms(med(forks))))
    print("  interpreter: %s" % py)
    print()
    print("RATIO warm host run -d (launcher fast path)/python3: median %.2fx, min %.2fx   (target <= 1.3x)"
          % (med(cli) / med(fl), min(cli) / min(fl)))
    print("RATIO warm host run -d (JVM CLI)/python3: median %.2fx, min %.2fx"
          % (med(jvm) / med(fl), min(jvm) / min(fl)))
    print("RATIO warm host run -d (API)/python3: median %.2fx, min %.2fx"
          % (med(via_api) / med(fl), min(via_api) / min(fl)))
    print("RATIO foreground ukernel run/python3: median %.2fx, min %.2fx"
          % (med(fg) / med(fl), min(fg) / min(fl)))
    print("RATIO warm host run -d (launcher fast path)/foreground run: median %.2fx" % (med(cli) / med(fg)))
    print("RATIO restart of a crashed task/fork floor: median %.2fx, min %.2fx   (target <= 20 ms)"
          % (med(restarts) / med(forks), min(restarts) / min(forks)))
    print("RATIO ./ukernel ps fast client/JVM CLI: median %.2fx" % (ps[1] / ps_jvm[1]))
    print("templates: %s" % ("off (UKERNEL_NO_TEMPLATES)" if os.environ.get("UKERNEL_NO_TEMPLATES") else "on"))
    print()
    print("host resident memory: %d KiB before, %d KiB with %d idle apps more: %.0f KiB per idle app "
          "(JVM heap growth included); their workers: median %.0f KiB RSS each"
          % (rss0, rss1, idle, (rss1 - rss0) / idle, med(worker_rss) / 1024 if worker_rss else float("nan")))
    note = busy_note()
    if note:
        print(note.replace("before the benchmark starts", "now, after the benchmark"))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Failed, startup.Failed) as e:
        print("bench/host: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
