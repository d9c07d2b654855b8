"""IPC and TCP benchmarks of the ABI v1 families, each against a bare-host floor in the same run.

    python3 bench/ipc_tcp.py [--messages N] [--rounds N] [--reps R]        (or bench/ipc_tcp.sh)

IPC: messages/s from a producer task to a consumer task over a kernel channel (bench/apps/ipc), one call per
message, 64 per write (batched), ipc_send_many/ipc_recv_many runs of 1024 (ABI 1.3), and ukernel.aio.Channel
send/recv (what asyncio code writes), against multiprocessing.Pipe between two bare processes.
TCP: round trips/s of a 64-byte echo through kernel sockets, client and server tasks using the synchronous
client (bench/apps/tcpecho), against the same echo on host sockets between two bare processes.
Runs alternate floor and ukernel R times; medians are reported with the ratio ukernel / floor.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys

from machine import busy_note

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = re.compile(r"RESULT (ipc|tcp) .*?(msgs_per_s|round_trips_per_s)=(\d+)")


def rate(cmd, log=None):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    if log:
        with open(os.path.join(ROOT, log)) as f:
            text += f.read()
    m = RATE.search(text)
    if out.returncode != 0 or not m:
        sys.exit("bench/ipc_tcp.py: FAILED: %s\n%s" % (" ".join(cmd), text[-2000:]))
    return float(m.group(3))


def compare(name, floor_cmd, uk_cmd, log, reps):
    floor, uk = [], []
    for _ in range(reps):
        floor.append(rate(floor_cmd))
        uk.append(rate(uk_cmd, log))
    f, u = statistics.median(floor), statistics.median(uk)
    print("%-32s floor %9.0f/s   ukernel %9.0f/s   ratio %.2fx" % (name, f, u, u / f))
    return f, u


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=50000)
    ap.add_argument("--rounds", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    py = sys.executable
    print(busy_note() or "")
    subprocess.run(["./ukernel", "build", "bench/apps/ipc"], cwd=ROOT, capture_output=True)
    subprocess.run(["./ukernel", "build", "bench/apps/tcpecho"], cwd=ROOT, capture_output=True)
    floor_pipe = [py, "bench/floor/ipc_tcp_floor.py", "pipe", str(args.messages), "64"]
    uk_ipc = ["./ukernel", "run", "bench/apps/ipc", "-q", "-e", "MESSAGES=%d" % args.messages]
    compare("IPC 64 B messages, one per call", floor_pipe, uk_ipc + ["-e", "BATCH=1"],
            "bench/apps/ipc/logs/console.log", args.reps)
    compare("IPC 64 B messages, 64 per write", floor_pipe, uk_ipc + ["-e", "BATCH=64"],
            "bench/apps/ipc/logs/console.log", args.reps)
    compare("IPC 64 B, ipc_send_many 1024", floor_pipe, uk_ipc + ["-e", "MODE=many", "-e", "BATCH=1024"],
            "bench/apps/ipc/logs/console.log", args.reps)
    compare("IPC 64 B, aio.Channel send/recv", floor_pipe, uk_ipc + ["-e", "MODE=aio"],
            "bench/apps/ipc/logs/console.log", args.reps)
    compare("TCP echo 64 B, sync client", [py, "bench/floor/ipc_tcp_floor.py", "tcp", str(args.rounds), "64"],
            ["./ukernel", "run", "bench/apps/tcpecho", "-q", "-e", "ROUNDS=%d" % args.rounds],
            "bench/apps/tcpecho/logs/console.log", args.reps)
    print(busy_note() or "")


if __name__ == "__main__":
    main()
