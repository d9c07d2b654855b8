"""pipeline, producer side (the main task): spawn the consumer with one end of a work channel, pass it a second
channel's endpoint *inside a message* (a handle moves with the message), send ITEMS work items, then read the
results back and wait for the consumer's exit code.
"""

import os

import ukernel
import ukernel.aio as aio


async def main():
    ukernel.cap_acquire("LOG")
    items = int(os.environ.get("ITEMS", "20"))
    work, work_end = aio.Channel.pair()
    results, results_end = aio.Channel.pair()
    consumer = await aio.spawn("consumer", "LOG|IPC", handles=[work_end])  # work_end moves into the consumer
    ukernel.info("spawned the consumer; passing it the results channel inside a message")
    await work.send(b"results channel", [results_end])  # results_end moves with this message
    for i in range(1, items + 1):
        await work.send(b"%d" % i)
    work.close()  # the consumer sees HANGUP after the last item: end of work

    total = 0
    count = 0
    async for data, _ in results:  # until the consumer closes its end
        total += int(data)
        count += 1
    code = await consumer.wait()
    ukernel.info("%d results, sum of squares %d; consumer exited with code %d" % (count, total, code))
    expected = sum(i * i for i in range(1, items + 1))
    assert (count, total, code) == (items, expected, 0), (count, total, code)
    return 0

