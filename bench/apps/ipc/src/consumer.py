"""IPC benchmark, consumer side: receive on the channel end moved to it at spawn until the
producer closes its end, as the producer's MODE says (BATCH receives per write; ipc_recv_many; ukernel.aio).
Says "done" on the channel when it has MESSAGES messages (the producer's clock stops there); exits 0 when the
producer's end closed and it got exactly that many."""

import os

import ukernel


def recv_some(client, rx, k):
    """Tries k receives in one write; returns (messages taken, whether the peer is closed and drained)."""
    if k == 1:
        try:
            client.ipc_recv(rx)
            return 1, False
        except BlockingIOError:
            return 0, False
        except BrokenPipeError:
            return 0, True
    with client.batch() as b:
        futures = [b.call("ipc_recv", rx) for _ in range(k)]
    errors = [f.exception() for f in futures]
    return sum(1 for e in errors if e is None), any(isinstance(e, BrokenPipeError) for e in errors)


def main():
    ukernel.cap_acquire("LOG|IPC")
    client = ukernel.client()
    n = int(os.environ.get("MESSAGES", "50000"))
    batch = int(os.environ.get("BATCH", "1"))
    rx = int(os.environ["UKERNEL_HANDLES"].split(",")[0])  # the end moved to this task at spawn
    mode = os.environ.get("MODE", "call")
    client.ipc_send(rx, b"up")  # the producer starts its clock now
    if mode == "aio":
        return amain(rx, n)
    got = 0
    if mode == "many":
        while True:
            try:
                got += len(client.ipc_recv_many(rx))
                if got == n:
                    client.ipc_send(rx, b"done")  # the producer stops its clock
            except BlockingIOError:
                client.io_poll([(rx, ukernel.EV_READABLE)], -1)
            except BrokenPipeError:
                return 0 if got == n else 1
    while True:
        taken, closed = recv_some(client, rx, batch)
        got += taken
        if taken and got == n:
            client.ipc_send(rx, b"done")  # the producer stops its clock
        if closed:
            break
        if taken < batch:
            client.io_poll([(rx, ukernel.EV_READABLE)], -1)
    return 0 if got == n else 1


async def amain(rx, n):
    import ukernel.aio as aio

    got = 0
    ch = aio.Channel(rx)
    async for _ in ch:
        got += 1
        if got == n:
            await ch.send(b"done")  # the producer stops its clock
            await ch.drain()
    return 0 if got == n else 1
