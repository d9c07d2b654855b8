"""IPC benchmark, producer side: spawn the consumer with one end of a channel, send MESSAGES messages of SIZE
bytes, and report messages/s from the first send until the consumer says it has taken the last one; the clock starts when the consumer says it is up. MODE:
``call`` (default) one ipc_send per message, or BATCH per write when BATCH > 1; ``many`` ipc_send_many runs of
BATCH messages (ABI 1.3; the consumer uses ipc_recv_many); ``aio`` ukernel.aio.Channel send/recv, what an asyncio
task writes (buffered and handed over many per call). Prints
``RESULT ipc mode=<m> batch=<b> msgs=<n> ns=<t> msgs_per_s=<r>``."""

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


def send_many(client, tx, payload, n, batch):
    run = [payload] * batch
    sent = 0
    while sent < n:
        k = min(batch, n - sent)
        try:
            sent += client.ipc_send_many(tx, run if k == batch else run[:k])
        except BlockingIOError:
            client.io_poll([(tx, ukernel.EV_WRITABLE)], -1)


def main():
    ukernel.cap_acquire("LOG|TIME|TASK|IPC")
    n = int(os.environ.get("MESSAGES", "50000"))
    payload = b"x" * int(os.environ.get("SIZE", "64"))
    batch = int(os.environ.get("BATCH", "1"))
    mode = os.environ.get("MODE", "call")
    if mode == "aio":
        return amain(n, payload)
    client = ukernel.client()
    tx, rx = client.ipc_channel_create()
    child = client.task_spawn("consumer", ukernel.Cap.LOG | ukernel.Cap.IPC, [rx])
    client.io_poll([(tx, ukernel.EV_READABLE)], -1)  # the consumer is up (its start-up is not timed)
    client.ipc_recv(tx)
    t0 = time.perf_counter_ns()
    if mode == "many":
        send_many(client, tx, payload, n, batch)
    else:
        sent = 0
        while sent < n:
            k = min(batch, n - sent)
            queued = send_some(client, tx, payload, k)
            sent += queued
            if queued < k:
                client.io_poll([(tx, ukernel.EV_WRITABLE)], -1)
    client.io_poll([(tx, ukernel.EV_READABLE)], -1)  # the consumer has the last message
    client.ipc_recv(tx)
    ns = time.perf_counter_ns() - t0
    client.ipc_close(tx)
    client.io_poll([(child, ukernel.EV_READABLE)], -1)
    return report(client.task_status(child)[1], mode, batch, n, ns)


def report(code, mode, batch, n, ns):
    if code != 0:
        ukernel.error("consumer failed with status %d" % code)
        return 1
    ukernel.info("RESULT ipc mode=%s batch=%d msgs=%d ns=%d msgs_per_s=%.0f" % (mode, batch, n, ns, n * 1e9 / ns))
    return 0


async def amain(n, payload):
    import ukernel.aio as aio

    tx, rx = aio.Channel.pair()
    child = await aio.spawn("consumer", "LOG|IPC", handles=[rx])
    await tx.recv()  # the consumer is up (its start-up is not timed)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        await tx.send(payload)
    await tx.drain()
    await tx.recv()  # the consumer has the last message
    ns = time.perf_counter_ns() - t0
    await tx.aclose()
    code = await child.wait()
    return report(code, "aio", 0, n, ns)
