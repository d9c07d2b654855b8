"""TCP echo benchmark, client side: spawn the echo server task, connect to it through kernel sockets, and time
ROUNDS round trips of SIZE bytes with the synchronous client (poll when a call would block). Prints
``RESULT tcp size=<s> rounds=<n> ns=<t> round_trips_per_s=<r>``."""

import os
import time

import ukernel


def main():
    ukernel.cap_acquire("LOG|TASK|IPC|NET")
    client = ukernel.client()
    rounds = int(os.environ.get("ROUNDS", "20000"))
    payload = b"x" * int(os.environ.get("SIZE", "64"))
    mine, theirs = client.ipc_channel_create()
    server = client.task_spawn("server", ukernel.Cap.LOG | ukernel.Cap.IPC | ukernel.Cap.NET, [theirs])
    client.io_poll([(mine, ukernel.EV_READABLE)], -1)
    port = int(client.ipc_recv(mine)[0])
    s = client.net_socket()
    try:
        client.net_connect(s, "127.0.0.1", port)
    except BlockingIOError:
        client.io_poll([(s, ukernel.EV_WRITABLE)], -1)
    t0 = time.perf_counter_ns()
    for _ in range(rounds):
        client.net_send(s, payload)
        got = 0
        while got < len(payload):
            try:
                got += len(client.net_recv(s, 65536))
            except BlockingIOError:
                client.io_poll([(s, ukernel.EV_READABLE)], -1)
    ns = time.perf_counter_ns() - t0
    client.net_close(s)
    client.io_poll([(server, ukernel.EV_READABLE)], -1)
    ukernel.info("RESULT tcp size=%d rounds=%d ns=%d round_trips_per_s=%.0f"
                 % (len(payload), rounds, ns, rounds * 1e9 / ns))
    return client.task_status(server)[1]
