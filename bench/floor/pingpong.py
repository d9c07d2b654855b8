"""The round-trip floor: a raw socketpair ping-pong between two Python processes.

    python3 bench/floor/pingpong.py [CALLS] [REPS] [PARENT_CPU CHILD_CPU]

The parent sends a 12-byte request (the size of a request frame with no arguments, like time_monotonic_ns) and
waits for a 21-byte reply (the kernel's reply to time_monotonic_ns: 12-byte header + a 9-byte I64 value); the
forked child reads each request and answers it. No encoding, no decoding, no dispatch: only the two processes,
the socket and the interpreter loop. With PARENT_CPU and CHILD_CPU each process pins itself to that CPU. Prints ``RESULT floor rep=<i> calls=<n> ns=<elapsed> calls_per_s=<rate>``.
"""

import os
import socket
import sys
import time

REQUEST = 12
REPLY = 21


def child(sock):
    reply = bytes(REPLY)
    buf = bytearray(4096)
    view = memoryview(buf)
    recv_into, send = sock.recv_into, sock.send
    while True:
        got = recv_into(buf)
        if not got:
            return
        while got < REQUEST:  # a request split across reads (never seen in practice)
            more = recv_into(view[got:])
            if not more:
                return
            got += more
        send(reply)


def pingpong(sock, n):
    request = bytes(REQUEST)
    buf = bytearray(4096)
    view = memoryview(buf)
    recv_into, send = sock.recv_into, sock.send
    t0 = time.perf_counter_ns()
    for _ in range(n):
        send(request)
        got = recv_into(buf)
        while got < REPLY:
            got += recv_into(view[got:])
    return time.perf_counter_ns() - t0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    cpus = [int(a) for a in sys.argv[3:5]]
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        if cpus:
            os.sched_setaffinity(0, {cpus[1]})
        parent_sock.close()
        try:
            child(child_sock)
        finally:
            os._exit(0)
    child_sock.close()
    if cpus:
        os.sched_setaffinity(0, {cpus[0]})
    try:
        pingpong(parent_sock, min(n, 20000))  # warm-up
        for rep in range(reps):
            ns = pingpong(parent_sock, n)
            print("RESULT floor rep=%d calls=%d ns=%d calls_per_s=%.0f" % (rep, n, ns, n * 1e9 / ns), flush=True)
    finally:
        parent_sock.close()
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
