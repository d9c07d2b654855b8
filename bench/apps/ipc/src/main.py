"""IPC benchmark, producer side: spawn the consumer with one end of a channel, send MESSAGES messages of SIZE
bytes (one call each, or BATCH per write when BATCH > 1), and report messages/s from the first send until the
consumer has taken the last one (its exit). Prints ``RESULT ipc batch=<b> msgs=<n> ns=<t> msgs_per_s=<r>``."""

import os
import time

import ukernel


def send_some(client, tx, payload, k):
    """Tries k sends in one write; returns how many were queued (the rest found the queue full)."""
    if k == 1:
        try:
            client.ipc_send(tx, payload)
            return 1
        except BlockingIOError:
            return 0
    with client.batch() as b:
        futures = [b.call("ipc_send", tx, payload, ()) for _ in range(k)]
    return sum(1 for f in futures if f.exception() is None)


def main():
    ukernel.cap_acquire("LOG|TIME|TASK|IPC")
    n = int(os.environ.get("MESSAGES", "50000"))
    payload = b"x" * int(os.environ.get("SIZE", "64"))
    batch = int(os.environ.get("BATCH", "1"))
    client = ukernel.client()
    tx, rx = client.ipc_channel_create()
    child = client.task_spawn("consumer", ukernel.Cap.LOG | ukernel.Cap.IPC, [rx])
    t0 = time.perf_counter_ns()
    sent = 0
    while sent < n:
        k = min(batch, n - sent)
        queued = send_some(client, tx, payload, k)
        sent += queued
        if queued < k:
            client.io_poll([(tx, ukernel.EV_WRITABLE)], -1)
    client.ipc_close(tx)
    client.io_poll([(child, ukernel.EV_READABLE)], -1)
    ns = time.perf_counter_ns() - t0
    _, code = client.task_status(child)
    if code != 0:
        ukernel.error("consumer failed with status %d" % code)
        return 1
    ukernel.info("RESULT ipc batch=%d msgs=%d ns=%d msgs_per_s=%.0f" % (batch, n, ns, n * 1e9 / ns))
    return 0
