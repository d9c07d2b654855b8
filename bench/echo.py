"""TCP echo through an asyncio server: under ukernel versus the same program on bare CPython, same load, one run.

    python3 bench/echo.py [--conns 16] [--seconds 5] [--rounds 2] [--sizes 64,65536]

The server is bench/echo-app/src/main.py (asyncio.start_server, reader.read / writer.write / drain), run
- bare:    python3 bench/echo-app/src/main.py            (PORT in the environment)
- ukernel: ukernel run <copy of bench/echo-app> -e PORT=...  (the kernel's asyncio loop over io_poll; the app
           grants NET with bind on 127.0.0.1:*; the worker is confined as usual)
The load is bench/echo_client.py on the host (plain sockets, closed loop: N connections each send a message and
wait for the whole echo before the next), a warm-up second then --seconds of measurement, for each message size,
alternating bare and ukernel for --rounds rounds. The figures are medians over the rounds; the ratios are
ukernel / bare of those medians. The server is stopped the same way on both sides (a QUIT connection).

UKERNEL_BENCH_LAUNCHER names another launcher (default: <repo>/ukernel). UKERNEL_NET_DIRECT=0 is passed to the
worker: its connections are then kernel-buffered sockets instead of granted ones.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(REPO, "bench", "echo-app")
CLIENT = os.path.join(REPO, "bench", "echo_client.py")
LAUNCHER = os.environ.get("UKERNEL_BENCH_LAUNCHER") or os.path.join(REPO, "ukernel")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited with status %s before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("the server did not listen on %d within %d s" % (port, timeout))


def stop(port, proc):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"QUIT")
    except OSError:
        pass
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError("the server did not stop after QUIT")


def start(side, port, app):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PORT": str(port)}
    if side == "bare":
        cmd = [sys.executable, "-B", os.path.join(APP, "src", "main.py")]
    else:
        cmd = [LAUNCHER, "run", app, "-q", "-e", "PORT=%d" % port]
        if "UKERNEL_NET_DIRECT" in os.environ:  # UKERNEL_NET_DIRECT=0: the kernel-buffered path (no granted sockets)
            cmd += ["-e", "UKERNEL_NET_DIRECT=" + os.environ["UKERNEL_NET_DIRECT"]]
        for k in ("HOME", "JAVA_HOME", "PYENV_ROOT", "PYENV_VERSION"):
            if k in os.environ:
                env[k] = os.environ[k]
    return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def one(side, size, args, app):
    port = free_port()
    proc = start(side, port, app)
    try:
        wait_listening(port, proc)
        out = subprocess.run([sys.executable, CLIENT, "--port", str(port), "--conns", str(args.conns),
                              "--size", str(size), "--seconds", str(args.seconds), "--warmup", str(args.warmup)],
                             capture_output=True, text=True, timeout=args.seconds + args.warmup + 120)
        if out.returncode != 0:
            raise RuntimeError("the client failed: %s" % (out.stderr or out.stdout))
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        if proc.poll() is None:
            stop(port, proc)
    if proc.returncode != 0:
        raise RuntimeError("the %s server exited with status %s: %s" % (side, proc.returncode, proc.stderr.read()))
    if side == "ukernel":
        log = os.path.join(app, "logs", "console.log")
        with open(log, encoding="utf-8", errors="replace") as f:
            stats = [line.split("loop stats: ", 1)[1] for line in f if "loop stats: " in line]
        if stats:
            result["loop"] = stats[-1].strip()
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conns", type=int, default=16)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--sizes", default="64,65536")
    args = p.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    tmp = tempfile.mkdtemp(prefix="ukecho")
    app = os.path.join(tmp, "echo-app")
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("build", "logs", "__pycache__"))
    try:
        b = subprocess.run([LAUNCHER, "build", app], capture_output=True, text=True, timeout=900)
        if b.returncode != 0:
            print("FAILED: ukernel build: %s" % (b.stderr or b.stdout), file=sys.stderr)
            return 1
        print("echo benchmark: %d connections, %.0f s (+%.0f s warm-up) per run, %d rounds, sizes %s"
              % (args.conns, args.seconds, args.warmup, args.rounds, sizes))
        results = {}
        for r in range(args.rounds):
            for size in sizes:
                for side in (("bare", "ukernel") if r % 2 == 0 else ("ukernel", "bare")):
                    res = one(side, size, args, app)
                    results.setdefault((side, size), []).append(res)
                    print("round %d %-7s %6d B: %9.1f req/s %8.2f MB/s  p50 %7.1f us  p99 %8.1f us%s"
                          % (r + 1, side, size, res["rps"], res["mbps"], res["p50_us"], res["p99_us"],
                             "  " + res["loop"] if "loop" in res else ""))
                    sys.stdout.flush()
        print()
        print("| size | side | req/s | MB/s | p50 µs | p99 µs |")
        print("|---:|---|---:|---:|---:|---:|")
        med = {}
        for size in sizes:
            for side in ("bare", "ukernel"):
                runs = results[(side, size)]
                m = {k: statistics.median(x[k] for x in runs) for k in ("rps", "mbps", "p50_us", "p99_us")}
                med[(side, size)] = m
                print("| %d | %s | %.0f | %.2f | %.0f | %.0f |" % (size, side, m["rps"], m["mbps"], m["p50_us"],
                                                                   m["p99_us"]))
        print()
        for size in sizes:
            b, k = med[("bare", size)], med[("ukernel", size)]
            print("size %6d B: throughput ukernel/bare %.2fx (req/s %.2fx); p50 %.1fx, p99 %.1fx of bare"
                  % (size, k["mbps"] / b["mbps"], k["rps"] / b["rps"], k["p50_us"] / b["p50_us"],
                     k["p99_us"] / b["p99_us"]))
        return 0
    except Exception as e:
        print("FAILED: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
