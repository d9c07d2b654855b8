"""The load of bench/echo.sh: N connections to an echo server, each sending a message and waiting for all of it
to come back before sending the next (closed loop), for a fixed time. Plain host sockets, one thread, epoll.

    python3 bench/echo_client.py --port P [--conns 16] [--size 64] [--seconds 5] [--warmup 1]

Prints one JSON object: requests, seconds, requests/s, MB/s (message bytes echoed per second, one direction,
10^6 bytes), and the latency of a request (first byte sent to last byte back) in microseconds: p50, p90, p99,
max. Exits 1 if the server misbehaves (wrong bytes back, connection closed).
"""

import argparse
import json
import os
import selectors
import socket
import sys
import time


class Conn:
    __slots__ = ("sock", "out", "sent", "got", "t0")

    def __init__(self, sock):
        self.sock = sock
        self.out = None
        self.sent = 0
        self.got = 0
        self.t0 = 0.0


def run(port, conns, size, seconds, warmup):
    payload = bytes((i * 7 + 13) & 0xFF for i in range(size))
    view = memoryview(payload)
    sel = selectors.DefaultSelector()
    buf = bytearray(max(size, 65536))
    bview = memoryview(buf)
    cs = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        c = Conn(s)
        cs.append(c)
    now = time.perf_counter
    start = now()
    measure_from = start + warmup
    stop = measure_from + seconds
    lat = []
    count = 0
    for c in cs:
        c.t0 = now()
        c.sent = c.sock.send(view)
        c.got = 0
        sel.register(c.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.sent < size else 0), c)
    measuring = False
    while True:
        t = now()
        if not measuring and t >= measure_from:
            measuring = True
            count = 0
            lat = []
            measure_start = t
        if t >= stop:
            break
        for key, mask in sel.select(0.5):
            c = key.data
            s = c.sock
            if mask & selectors.EVENT_WRITE and c.sent < size:
                try:
                    c.sent += s.send(view[c.sent:])
                except BlockingIOError:
                    pass
                if c.sent >= size:
                    sel.modify(s, selectors.EVENT_READ, c)
            if mask & selectors.EVENT_READ:
                while c.got < size:
                    try:
                        n = s.recv_into(bview[c.got:size])
                    except BlockingIOError:
                        break
                    if not n:
                        raise SystemExit("echo_client: the server closed a connection")
                    c.got += n
                if c.got >= size:
                    if buf[:size] != payload:
                        raise SystemExit("echo_client: the server sent back different bytes")
                    t1 = now()
                    if measuring:
                        lat.append(t1 - c.t0)
                        count += 1
                    c.t0 = t1
                    c.got = 0
                    try:
                        c.sent = s.send(view)
                    except BlockingIOError:
                        c.sent = 0
                    if c.sent < size:
                        sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    elapsed = now() - measure_start
    for c in cs:
        sel.unregister(c.sock)
        c.sock.close()
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1e6, 1) if lat else None

    return {
        "conns": conns, "size": size, "seconds": round(elapsed, 3), "requests": count,
        "rps": round(count / elapsed, 1), "mbps": round(count * size / elapsed / 1e6, 2),
        "p50_us": pct(0.50), "p90_us": pct(0.90), "p99_us": pct(0.99), "max_us": pct(1.0),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=16)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    a = p.parse_args()
    print(json.dumps(run(a.port, a.conns, a.size, a.seconds, a.warmup)))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
