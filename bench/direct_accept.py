"""Short-lived connections (connect, one request, close) against a server that accepts through the kernel, with the
bytes on granted descriptors (ABI 1.1 direct) or through the kernel (buffered), against bare CPython floors.

    python3 bench/direct_accept.py [--conns N] [--reps R] [--clients C]        (or bench/direct_accept.sh)

The client runs here, on host sockets: C threads, each connecting, sending one small HTTP/1.0 request, reading the
response to end of stream and closing, until N connections are done; connections/s from the first connect to the
last close (a warm-up connection first, retried until the server listens, is not timed). Servers, one connection
at a time each: `ukernel run bench/apps/accept` with MODE=direct and MODE=buffered; floors bench/floor/accept_floor.py
sync (the same loop on a host listener) and asyncio (asyncio.start_server). Runs alternate R times; medians.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

from machine import busy_note

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUEST = b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one(port):
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(REQUEST)
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        if not got.endswith(b"hello"):
            raise RuntimeError("bad response %r" % got)
    finally:
        s.close()


def load(port, conns, clients):
    deadline = time.monotonic() + 120
    while True:  # warm-up: the server is starting (ukernel run builds nothing: the app is built first)
        try:
            one(port)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    left = [conns]
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                one(port)
            except Exception as e:  # reported after the run
                errors.append(e)
                return

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return conns / elapsed


def run_server(cmd, conns, clients):
    port = free_port()
    proc = subprocess.Popen([c.replace("{PORT}", str(port)) for c in cmd], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        rate = load(port, conns, clients)
    finally:
        try:
            out, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    if proc.returncode != 0:
        sys.exit("bench/direct_accept.py: FAILED: %s\n%s" % (" ".join(cmd), out[-2000:]))
    return rate


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--clients", type=int, default=1)
    args = ap.parse_args()
    py = sys.executable
    print(busy_note() or "")
    built = subprocess.run(["./ukernel", "build", "bench/apps/accept"], cwd=ROOT, capture_output=True, text=True)
    if built.returncode != 0:
        sys.exit("bench/direct_accept.py: FAILED: ukernel build\n" + built.stdout + built.stderr)
    total = str(args.conns + 1)  # the warm-up connection too
    servers = {
        "floor: bare sync": [py, "bench/floor/accept_floor.py", "sync", "{PORT}", total],
        "floor: bare asyncio": [py, "bench/floor/accept_floor.py", "asyncio", "{PORT}", total],
        "ukernel direct (granted)": ["./ukernel", "run", "bench/apps/accept", "-q", "-e", "PORT={PORT}",
                                     "-e", "CONNS=" + total, "-e", "MODE=direct"],
        "ukernel buffered": ["./ukernel", "run", "bench/apps/accept", "-q", "-e", "PORT={PORT}",
                             "-e", "CONNS=" + total, "-e", "MODE=buffered"],
    }
    rates = {name: [] for name in servers}
    for _ in range(args.reps):
        for name, cmd in servers.items():
            rates[name].append(run_server(cmd, args.conns, args.clients))
    med = {name: statistics.median(r) for name, r in rates.items()}
    sync, aio = med["floor: bare sync"], med["floor: bare asyncio"]
    print("%d connections, %d client thread(s), %d runs each (median conn/s; ratio to the sync floor, to asyncio)"
          % (args.conns, args.clients, args.reps))
    for name, m in med.items():
        print("%-28s %8.0f conn/s   %.2fx sync   %.2fx asyncio" % (name, m, m / sync, m / aio))
    print(busy_note() or "")


if __name__ == "__main__":
    main()
