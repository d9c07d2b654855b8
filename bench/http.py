"""aiohttp "hello" under wrk: examples/web (unmodified aiohttp, Debian's copy vendored into the app) served by
``ukernel run`` against the same file under bare CPython asyncio, alternated in one run, ratios of req/s.

Loads: 1 connection keep-alive, 32 connections keep-alive, 32 connections with ``Connection: close`` (each
request a new TCP connection, so the kernel sees, counts and grants every accept). Needs Debian's wrk and
python3-aiohttp. Usage: bench/http.sh [--seconds S] [--rounds R]
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = os.environ.get("UKERNEL_BENCH_LAUNCHER") or str(REPO / "ukernel")
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)/")
LOADS = (("1 conn keep-alive", 1, False), ("32 conns keep-alive", 32, False), ("32 conns Connection: close", 32, True))

# The bare run imports the same main.py; this stands in for the two adapter calls it makes.
STAND_IN = '''
def cap_acquire(*caps):
    return None


def info(message):
    print(message, flush=True)
'''


def vendor_aiohttp(dest):
    probe = subprocess.run(["/usr/bin/python3", "-c",
                            "import sys, aiohttp.web\n"
                            "print('\\n'.join(sorted({v.__file__ for m, v in sys.modules.items() if '.' not in m"
                            " and getattr(v, '__file__', None) and '/dist-packages/' in v.__file__})))"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit("bench/http: Debian's python3-aiohttp is needed (apt-get install python3-aiohttp)")
    for init in probe.stdout.split():
        top = Path(init).parent if init.endswith("__init__.py") else Path(init)
        if top.name.startswith("_distutils_hack"):
            continue
        (shutil.copytree(top, dest / top.name, ignore=shutil.ignore_patterns("__pycache__")) if top.is_dir()
         else shutil.copy(top, dest / top.name))


def wait_port(read_text, proc):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        m = LISTENING.search(read_text())
        if m:
            return int(m.group(1))
        if proc.poll() is not None:
            sys.exit("bench/http: the server ended first:\n" + read_text())
        time.sleep(0.05)
    sys.exit("bench/http: the server did not start listening:\n" + read_text())


def start(side, app, stand_in):
    env = dict(os.environ, PORT="0")
    if side == "bare":
        out = app / "bare.out"
        f = open(out, "w")
        code = ("import asyncio, sys; sys.path[0:0] = [%r, %r]; import main; asyncio.run(main.main())"
                % (str(stand_in), str(app / "src")))
        proc = subprocess.Popen([sys.executable, "-B", "-c", code], stdout=f, stderr=subprocess.STDOUT, env=env)
        return proc, wait_port(lambda: out.read_text(errors="replace"), proc)
    log = app / "logs" / "console.log"
    shutil.rmtree(app / "logs", ignore_errors=True)
    proc = subprocess.Popen([LAUNCHER, "run", str(app), "-q", "-e", "PORT=0"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, wait_port(lambda: log.read_text(errors="replace") if log.exists() else "", proc)


def wrk(port, conns, close, seconds):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "http://127.0.0.1:%d/" % port]
    if close:
        cmd[1:1] = ["-H", "Connection: close"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    return float(m.group(1)) if m else 0.0, (errors.group(0) if errors else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench/http: wrk is needed (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="ukhttp"))
    try:
        app = tmp / "web"
        shutil.copytree(REPO / "examples" / "web", app, ignore=shutil.ignore_patterns("build", "logs", "dist"))
        (app / "requirements.txt").unlink()
        vendor_aiohttp(app / "src")
        stand_in = tmp / "standin"
        stand_in.mkdir()
        (stand_in / "ukernel.py").write_text(STAND_IN)
        subprocess.run([LAUNCHER, "build", str(app)], check=True, stdout=subprocess.DEVNULL)
        results = {(load[0], side): [] for load in LOADS for side in ("bare", "ukernel")}
        for r in range(1, args.rounds + 1):
            for side in (("bare", "ukernel") if r % 2 else ("ukernel", "bare")):
                proc, port = start(side, app, stand_in)
                try:
                    wrk(port, 4, False, 1)  # warm-up
                    for name, conns, close in LOADS:
                        rps, errors = wrk(port, conns, close, args.seconds)
                        results[(name, side)].append(rps)
                        print("round %d %-8s %-28s %9.0f req/s %s" % (r, side, name, rps, errors), flush=True)
                finally:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
        print("\n| load | bare req/s (median) | ukernel req/s (median) | ukernel / bare |")
        print("|---|---:|---:|---:|")
        for name, _, _ in LOADS:
            b = statistics.median(results[(name, "bare")])
            u = statistics.median(results[(name, "ukernel")])
            print("| %s | %.0f | %.0f | %.2fx |" % (name, b, u, u / b if b else 0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
