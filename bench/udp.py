"""UDP echo through asyncio's datagram endpoint: under ukernel (kernel-buffered UDP, ABI 1.2) versus the same
program on bare CPython, same load, one run.

    python3 bench/udp.py [--clients 16] [--seconds 5] [--rounds 2] [--size 64]

The server is bench/udp-app/src/main.py (create_datagram_endpoint, sendto back to the sender), run bare
(python3 main.py) and under `ukernel run` (every datagram crosses the kernel: net_recvfrom, and net_sendto checked
against the app's udp: rules). The load is on the host: --clients UDP sockets in one thread, each with one
datagram in flight (closed loop: send, wait for the echo, send again; a datagram not answered within 1 s is sent
again and counted as lost), a warm-up second then --seconds of measurement, alternating bare and ukernel for --rounds
rounds. Figures are medians over the rounds; the ratio is ukernel / bare.
"""

import argparse
import os
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(REPO, "bench", "udp-app")
LAUNCHER = os.environ.get("UKERNEL_BENCH_LAUNCHER") or os.path.join(REPO, "ukernel")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(side, port, app):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PORT": str(port)}
    if side == "bare":
        cmd = [sys.executable, "-B", os.path.join(APP, "src", "main.py")]
    else:
        cmd = [LAUNCHER, "run", app, "-q", "-e", "PORT=%d" % port]
        for k in ("HOME", "JAVA_HOME", "PYENV_ROOT", "PYENV_VERSION"):
            if k in os.environ:
                env[k] = os.environ[k]
    return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_answering(port, proc, timeout=60):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the server exited with status %s: %s" % (proc.returncode, proc.stderr.read()))
            s.sendto(b"ping", ("127.0.0.1", port))
            try:
                if s.recv(16) == b"ping":
                    return
            except OSError:
                pass
    raise RuntimeError("the server did not answer on %d within %d s" % (port, timeout))


def load(port, clients, size, warmup, seconds):
    """Round trips per second over ``seconds`` after ``warmup``, and datagrams lost (re-sent after 1 s)."""
    sel = selectors.DefaultSelector()
    socks = []
    payload = b"x" * size
    for _ in range(clients):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    sent_at = {}
    now = time.monotonic()
    for s in socks:
        s.send(payload)
        sent_at[s] = now
    start = now + warmup
    end = start + seconds
    done = lost = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for key, _ in sel.select(0.1):
            s = key.fileobj
            try:
                s.recv(65536)
            except BlockingIOError:
                continue
            t = time.monotonic()
            if t >= start:
                done += 1
            s.send(payload)
            sent_at[s] = t
        for s in socks:  # a lost datagram (UDP) is sent again, once a second
            if now - sent_at[s] > 1.0:
                lost += 1
                s.send(payload)
                sent_at[s] = now
    for s in socks:
        s.close()
    return done / seconds, lost


def one(side, args, app):
    port = free_port()
    proc = start(side, port, app)
    try:
        wait_answering(port, proc)
        rps, lost = load(port, args.clients, args.size, args.warmup, args.seconds)
    finally:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(3):
                s.sendto(b"QUIT", ("127.0.0.1", port))
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError("the %s server exited with status %s: %s" % (side, proc.returncode, proc.stderr.read()))
    return rps, lost


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="ukudp")
    app = os.path.join(tmp, "udp-app")
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("build", "logs", "__pycache__"))
    try:
        b = subprocess.run([LAUNCHER, "build", app], capture_output=True, text=True, timeout=900)
        if b.returncode != 0:
            print("FAILED: ukernel build: %s" % (b.stderr or b.stdout), file=sys.stderr)
            return 1
        print("udp echo benchmark: %d clients, %d B, %.0f s (+%.0f s warm-up) per run, %d rounds"
              % (args.clients, args.size, args.seconds, args.warmup, args.rounds))
        results = {"bare": [], "ukernel": []}
        for r in range(args.rounds):
            for side in (("bare", "ukernel") if r % 2 == 0 else ("ukernel", "bare")):
                rps, lost = one(side, args, app)
                results[side].append(rps)
                print("round %d %-7s %9.1f round trips/s  (%d re-sent)" % (r + 1, side, rps, lost))
                sys.stdout.flush()
        bare, kernel = statistics.median(results["bare"]), statistics.median(results["ukernel"])
        print("median: bare %.0f/s, ukernel %.0f/s: ukernel/bare %.2fx" % (bare, kernel, kernel / bare))
        return 0
    except Exception as e:
        print("FAILED: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
