"""A client that makes its own sockets: SHORT short-lived connections (connect, 4 bytes each way, close), then LONG
round trips on one connection, to 127.0.0.1:PORT; prints ``RESULT short=<conn/s> long=<round trips/s>``. Runs
unchanged under ``ukernel run`` (each connect through the kernel's supervisor) and on bare CPython (the floor)."""

import os
import socket
import time


def main():
    port = int(os.environ["PORT"])
    short, long_ = int(os.environ.get("SHORT", "2000")), int(os.environ.get("LONG", "20000"))
    t0 = time.perf_counter()
    for _ in range(short):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"ping")
            if s.recv(4) != b"pong":
                raise SystemExit("bad reply")
    t1 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as s:
        t2 = time.perf_counter()
        for _ in range(long_):
            s.sendall(b"ping")
            if s.recv(4) != b"pong":
                raise SystemExit("bad reply")
        t3 = time.perf_counter()
    print("RESULT short=%.1f long=%.1f" % (short / (t1 - t0), long_ / (t3 - t2)), flush=True)


if __name__ == "__main__":
    main()
