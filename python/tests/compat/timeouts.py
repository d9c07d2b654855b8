"""Time and cancellation: sleep ordering, call_later/call_at, wait_for timing out, asyncio.timeout, cancelling a
task blocked in a read, shield, gather with return_exceptions, wait(FIRST_COMPLETED), Event/Queue/Lock."""

import asyncio


async def main():
    loop = asyncio.get_running_loop()
    order = []
    t0 = loop.time()
    tasks = [asyncio.create_task(asyncio.sleep(d)) for d in (0.05, 0.01, 0.03)]
    for d, t in zip((0.05, 0.01, 0.03), tasks):
        t.add_done_callback(lambda _, d=d: order.append(d))
    await asyncio.gather(*tasks)
    assert order == [0.01, 0.03, 0.05], order
    assert loop.time() - t0 >= 0.045

    fired = []
    loop.call_later(0.02, fired.append, "later")
    loop.call_at(loop.time() + 0.01, fired.append, "at")
    loop.call_soon(fired.append, "soon")
    await asyncio.sleep(0.05)
    assert fired == ["soon", "at", "later"], fired

    try:
        await asyncio.wait_for(asyncio.sleep(10), 0.05)
        raise AssertionError("wait_for did not time out")
    except asyncio.TimeoutError:
        pass
    try:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(10)
        raise AssertionError("asyncio.timeout did not time out")
    except TimeoutError:
        pass
    assert await asyncio.wait_for(asyncio.sleep(0.01, result="ok"), 5) == "ok"

    # a task blocked reading a socket is cancelled cleanly
    async def silent(reader, writer):
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    blocked = asyncio.create_task(reader.read(100))
    await asyncio.sleep(0.02)
    assert not blocked.done()
    blocked.cancel()
    try:
        await blocked
        raise AssertionError("not cancelled")
    except asyncio.CancelledError:
        pass
    assert blocked.cancelled()
    try:
        await asyncio.wait_for(reader.readexactly(10), 0.05)
        raise AssertionError("readexactly did not time out")
    except asyncio.TimeoutError:
        pass
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()

    # shield: the inner task survives the outer cancellation
    inner = asyncio.create_task(asyncio.sleep(0.05, result="inner done"))
    async def guarded():
        return await asyncio.shield(inner)

    outer = asyncio.create_task(guarded())
    await asyncio.sleep(0.01)
    outer.cancel()
    try:
        await outer
    except asyncio.CancelledError:
        pass
    assert await inner == "inner done"

    async def boom():
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    results = await asyncio.gather(boom(), asyncio.sleep(0.02, result=7), return_exceptions=True)
    assert isinstance(results[0], ValueError) and results[1] == 7, results
    done, pending = await asyncio.wait([asyncio.create_task(asyncio.sleep(d, result=d)) for d in (0.2, 0.01)],
                                       return_when=asyncio.FIRST_COMPLETED)
    assert [t.result() for t in done] == [0.01] and len(pending) == 1
    for t in pending:
        t.cancel()

    q = asyncio.Queue(maxsize=2)
    event = asyncio.Event()
    lock = asyncio.Lock()
    got = []

    async def producer():
        for i in range(10):
            await q.put(i)
        await q.put(None)

    async def consumer():
        while (item := await q.get()) is not None:
            async with lock:
                got.append(item)
        event.set()

    await asyncio.gather(producer(), consumer())
    await asyncio.wait_for(event.wait(), 5)
    assert got == list(range(10)), got
    print("COMPAT OK timeouts")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
