"""Warm templates: examples/web (aiohttp, Debian's copy vendored as bench/http.py does) to its first HTTP answer.

    python3 bench/template.py [-n RUNS]        (or bench/template.sh)

Three ways, interleaved, RUNS times each; the clock runs from just before the start to the first `200` answer
to `GET /` (the port is read from the app's `listening on` line: PORT=0 lets it pick one):

  warm template  `POST /apps` to a resident host whose template of the app is ready (made by a warm-up run): the
                 worker is a fork of a confined process that has already imported aiohttp (docs/host.md)
  cold host      the same request to a second host started with UKERNEL_NO_TEMPLATES=1: a fresh confined
                 python3 per instance, as before templates
  floor          bare python3 running the same main.py (a stand-in for its two ukernel calls)

The hosts live in temporary UKERNEL_HOMEs; nothing of the user's ~/.ukernel is touched.
"""

import argparse
import importlib.util
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import startup
from host import api
from machine import busy_note

REPO = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)/")
TIMEOUT = 120.0

_spec = importlib.util.spec_from_file_location("bench_http", Path(__file__).with_name("http.py"))
bench_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_http)


class Failed(Exception):
    pass


def answered(port, deadline):
    """Waits for a 200 to GET / on 127.0.0.1:port (the server may not accept yet right after its log line)."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                head = s.recv(64)
            if b" 200 " in head:
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.001)
    raise Failed("no answer on port %d" % port)


def port_in(read, deadline, what):
    while time.monotonic() < deadline:
        m = LISTENING.search(read())
        if m:
            return int(m.group(1))
        time.sleep(0.001)
    raise Failed("%s never listened:\n%s" % (what, read()[-2000:]))


def start_host(home, no_templates):
    env = dict(os.environ, UKERNEL_HOME=home)
    env.pop("UKERNEL_NO_TEMPLATES", None)
    if no_templates:
        env["UKERNEL_NO_TEMPLATES"] = "1"
    out = open(os.path.join(home, "host.out"), "wb")
    proc = subprocess.Popen([str(REPO / "ukernel"), "host"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT)
    sock = os.path.join(home, "host.sock")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            if api(sock, "GET", "/host")[0] == 200:
                return proc, sock, env
        except OSError:
            pass
        if proc.poll() is not None:
            raise Failed("the host ended: see %s/host.out" % home)
        time.sleep(0.02)
    raise Failed("the host did not answer")


def via_host(sock, app, name):
    t0 = time.perf_counter()
    status, body = api(sock, "POST", "/apps", {"dir": str(app), "name": name, "env": {"PORT": "0"}})
    if status != 201:
        raise Failed("POST /apps: %d %s" % (status, body))
    log = Path(json.loads(body)["log"])
    deadline = time.monotonic() + TIMEOUT
    port = port_in(lambda: log.read_text(errors="replace") if log.exists() else "", deadline, name)
    t1 = answered(port, deadline)
    text = log.read_text(errors="replace")
    api(sock, "DELETE", "/apps/%s?force=1" % name)
    return t1 - t0, "warm start: forked" in text


def bare(py, app, stand_in):
    env = dict(os.environ, PORT="0")
    code = ("import asyncio, sys; sys.path[0:0] = [%r, %r]; import main; asyncio.run(main.main())"
            % (str(stand_in), str(app / "src")))
    t0 = time.perf_counter()
    proc = subprocess.Popen([py, "-B", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        buf = b""
        deadline = time.monotonic() + TIMEOUT
        while True:
            line = proc.stdout.readline()
            if not line:
                raise Failed("the bare server ended: " + buf.decode(errors="replace"))
            buf += line
            m = LISTENING.search(line.decode(errors="replace"))
            if m:
                break
        t1 = answered(int(m.group(1)), deadline)
        return t1 - t0
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--runs", type=int, default=10)
    args = ap.parse_args()
    note = busy_note()
    if note:
        print(note, flush=True)
    _, py = startup.python_exe()
    tmp = Path(tempfile.mkdtemp(prefix="ukernel-bench-template."))
    hosts = []
    try:
        app = tmp / "web"
        shutil.copytree(REPO / "examples" / "web", app, ignore=shutil.ignore_patterns("build", "logs", "dist"))
        (app / "requirements.txt").unlink()
        bench_http.vendor_aiohttp(app / "src")
        stand_in = tmp / "standin"
        stand_in.mkdir()
        (stand_in / "ukernel.py").write_text(bench_http.STAND_IN)
        # byte-compiled for the floor's interpreter too (it runs with -B: it reads .pyc, never writes them)
        subprocess.run([py, "-m", "compileall", "-q", str(app / "src"), str(stand_in)], check=True)
        subprocess.run([str(REPO / "ukernel"), "build", str(app)], check=True, stdout=subprocess.DEVNULL)
        for no_templates in (False, True):
            home = tmp / ("cold" if no_templates else "warm")
            home.mkdir()
            hosts.append(start_host(str(home), no_templates))
        (_, warm_sock, _), (_, cold_sock, _) = hosts
        for i in range(2):  # warm-up: makes the template, warms the JVMs and the page cache
            via_host(warm_sock, app, "warmup%d" % i)
            via_host(cold_sock, app, "warmup%d" % i)
            bare(py, app, stand_in)
        warm, cold, floor, forked = [], [], [], 0
        for i in range(args.runs):
            t, f = via_host(warm_sock, app, "w%d" % i)
            warm.append(t)
            forked += f
            cold.append(via_host(cold_sock, app, "c%d" % i)[0])
            floor.append(bare(py, app, stand_in))
        status, body = api(warm_sock, "GET", "/host")
        info = json.loads(body)
    finally:
        for proc, sock, env in hosts:
            try:
                api(sock, "POST", "/host/stop", {})
            except OSError:
                pass
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median
    print()
    print("examples/web (aiohttp) to its first HTTP answer (%d runs each, interleaved)" % args.runs)
    print("  %-58s %8s %8s" % ("", "min", "median"))
    for label, vals in (("warm template: POST /apps -> first 200", warm),
                        ("cold host (UKERNEL_NO_TEMPLATES=1): POST /apps -> first 200", cold),
                        ("floor: bare python3 -> first 200", floor)):
        print("  %-58s %s %s  ms" % (label, startup.ms(min(vals)), startup.ms(med(vals))))
    print("  forked from the template: %d of %d warm runs; templates made %s, forks %s"
          % (forked, args.runs, info.get("templates_made"), info.get("template_forks")))
    print("  interpreter: %s" % py)
    print()
    print("RATIO warm template/python3: median %.2fx, min %.2fx   (target <= 0.5x)"
          % (med(warm) / med(floor), min(warm) / min(floor)))
    print("RATIO cold host/python3: median %.2fx, min %.2fx" % (med(cold) / med(floor), min(cold) / min(floor)))
    print("RATIO warm template/cold host: median %.2fx" % (med(warm) / med(cold)))
    note = busy_note()
    if note:
        print(note.replace("before the benchmark starts", "now, after the benchmark"))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Failed, startup.Failed) as e:
        print("bench/template: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
