"""Sockets a worker makes itself (seccomp user notification): the same client file under `ukernel run` (strict, a
root kernel: every connect goes through the kernel's supervisor; the bytes are the host's) and on bare CPython.

    python3 bench/own_sockets.py [--short N] [--long N] [--reps R]        (or bench/own_sockets.sh)

The server runs here (threads on a host listener: read 4 bytes, answer 4, until end of stream). The client is
bench/apps/own-sockets/src/main.py: N short-lived connections (connect, ping/pong, close), then N round trips on one
connection; it times itself. Runs alternate R times; medians; ratios ukernel / bare.
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import threading

from machine import busy_note

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = "bench/apps/own-sockets"


def serve(listener):
    def conn(c):
        with c:
            while True:
                data = c.recv(4)
                if not data:
                    return
                c.sendall(b"pong")

    while True:
        try:
            c, _ = listener.accept()
        except OSError:
            return
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=conn, args=(c,), daemon=True).start()


def run(cmd, env):
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    m = re.search(r"RESULT short=([\d.]+) long=([\d.]+)", proc.stdout)
    if proc.returncode != 0 or not m:
        sys.exit("bench/own_sockets.py: FAILED: %s\n%s%s" % (" ".join(cmd), proc.stdout[-2000:], proc.stderr[-2000:]))
    return float(m.group(1)), float(m.group(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", type=int, default=2000)
    ap.add_argument("--long", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/own_sockets.py: the kernel supervises a worker's own sockets only as root")
    print(busy_note() or "")
    built = subprocess.run(["./ukernel", "build", APP], cwd=ROOT, capture_output=True, text=True)
    if built.returncode != 0:
        sys.exit("bench/own_sockets.py: FAILED: ukernel build\n" + built.stdout + built.stderr)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    threading.Thread(target=serve, args=(listener,), daemon=True).start()
    counts = {"PORT": str(port), "SHORT": str(args.short), "LONG": str(args.long)}
    env = dict(os.environ, **counts)
    ukernel = ["./ukernel", "run", APP] + [a for k, v in counts.items() for a in ("-e", "%s=%s" % (k, v))]
    runs = {"bare python3": [sys.executable, "-I", APP + "/src/main.py"], "ukernel run (strict)": ukernel}
    results = {name: [] for name in runs}
    for _ in range(args.reps):
        for name, cmd in runs.items():
            results[name].append(run(cmd, env))
    med = {name: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
           for name, rs in results.items()}
    bare = med["bare python3"]
    print("%d short-lived connections and %d round trips on one connection, %d runs each (medians; ratio to bare)"
          % (args.short, args.long, args.reps))
    for name, (s, l) in med.items():
        print("%-22s %8.0f conn/s (%.2fx)   %8.0f round trips/s (%.2fx)" % (name, s, s / bare[0], l, l / bare[1]))
    print(busy_note() or "")
    listener.close()


if __name__ == "__main__":
    main()
