"""pipeline, consumer side (a [[task]] spawned by the producer): its first handle is the work channel; the first
message carries the results channel's endpoint; every later message is a number whose square goes back."""

import ukernel
import ukernel.aio as aio


async def main():
    ukernel.cap_acquire("LOG")
    (work_handle,) = aio.inherited_handles()  # the handle the producer passed to spawn
    work = aio.Channel(work_handle)
    data, handles = await work.recv()
    assert data == b"results channel" and len(handles) == 1, (data, handles)
    results = aio.Channel(handles[0])  # an endpoint that arrived inside the message
    squared = 0
    async for data, _ in work:
        n = int(data)
        await results.send(b"%d" % (n * n))
        squared += 1
    results.close()
    ukernel.info("consumer squared %d numbers" % squared)
    return 0
