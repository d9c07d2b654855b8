"""Floors for bench/ipc_tcp.py, on bare host primitives between two processes.

    python3 floor_ipc_tcp.py pipe MESSAGES SIZE   -> multiprocessing.Pipe: the parent sends, a child receives
    python3 floor_ipc_tcp.py tcp ROUNDS SIZE      -> TCP echo on 127.0.0.1: a child echoes, the parent times round trips

Prints one ``RESULT`` line like the ukernel apps do.
"""

import multiprocessing
import socket
import sys
import time


def consume(conn, n, up, done):
    up.set()
    for _ in range(n):
        conn.recv_bytes()
    done.set()


def pipe(n, size):
    rx, tx = multiprocessing.Pipe(duplex=False)
    up = multiprocessing.Event()
    done = multiprocessing.Event()
    child = multiprocessing.Process(target=consume, args=(rx, n, up, done))
    child.start()
    up.wait()  # the consumer is up (its start-up is not timed, as in bench/apps/ipc)
    payload = b"x" * size
    t0 = time.perf_counter_ns()
    for _ in range(n):
        tx.send_bytes(payload)
    done.wait()  # the consumer has the last message (its exit is not timed, as in bench/apps/ipc)
    ns = time.perf_counter_ns() - t0
    child.join()
    print("RESULT ipc batch=1 msgs=%d ns=%d msgs_per_s=%.0f" % (n, ns, n * 1e9 / ns))


def echo(listener):
    conn, _ = listener.accept()
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def tcp(rounds, size):
    listener = socket.create_server(("127.0.0.1", 0))
    child = multiprocessing.Process(target=echo, args=(listener,))
    child.start()
    s = socket.create_connection(listener.getsockname())
    payload = b"x" * size
    t0 = time.perf_counter_ns()
    for _ in range(rounds):
        s.sendall(payload)
        got = 0
        while got < size:
            got += len(s.recv(65536))
    ns = time.perf_counter_ns() - t0
    s.close()
    child.join()
    print("RESULT tcp size=%d rounds=%d ns=%d round_trips_per_s=%.0f" % (size, rounds, ns, rounds * 1e9 / ns))


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    kind, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    (pipe if kind == "pipe" else tcp)(n, size)
