"""Time and cancellation: sleep ordering, call_later/call_at, wait_for timing out, asyncio.timeout, cancelling a
task blocked in a read, shield, gather with return_exceptions, wait(FIRST_COMPLETED), Event/Queue/Lock."""

import asyncio


async def main():
    loop = asyncio.get_running_loop()
    order = []
    t0 = loop.time()

    async def sleeper(d):
        due = loop.time() + d  # what the sleep below schedules (the tasks start one after another)
        await asyncio.sleep(d)
        order.append((due, d))

    await asyncio.gather(*(sleeper(d) for d in (0.05, 0.01, 0.03)))
    # sleeps end in the order they are due: (0.01, 0.03, 0.05) unless the machine stalled between two task starts
    assert order == sorted(order), order
    assert sorted(d for _, d in order) == [0.01, 0.03, 0.05], order
    assert loop.time() - t0 >= 0.045

    fired = []
    base = loop.time()
    loop.call_later(0.02, fired.append, "later")  # due at base + 0.02 or later
    loop.call_at(base + 0.01, fired.append, "at")
    loop.call_soon(fired.append, "soon")
    await asyncio.sleep(0.05)
    assert fired == ["soon", "at", "later"], fired

    try:
        await asyncio.wait_for(asyncio.sleep(3600), 0.05)
        raise AssertionError("wait_for did not time out")
    except asyncio.TimeoutError:
        pass
    try:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(3600)
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
    release = asyncio.Event()
    shielding = asyncio.Event()

    async def work():
        await release.wait()
        return "inner done"

    inner = asyncio.create_task(work())

    async def guarded():
        shielding.set()
        return await asyncio.shield(inner)

    outer = asyncio.create_task(guarded())
    await shielding.wait()  # outer now waits inside shield()
    outer.cancel()
    try:
        await outer
        raise AssertionError("the outer task was not cancelled")
    except asyncio.CancelledError:
        pass
    assert outer.cancelled() and not inner.done()
    release.set()
    assert await inner == "inner done"

    async def boom():
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    results = await asyncio.gather(boom(), asyncio.sleep(0.02, result=7), return_exceptions=True)
    assert isinstance(results[0], ValueError) and results[1] == 7, results
    never = asyncio.Event()  # the other task ends only when cancelled, so FIRST_COMPLETED has one answer
    done, pending = await asyncio.wait([asyncio.create_task(never.wait()),
                                        asyncio.create_task(asyncio.sleep(0.01, result=0.01))],
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
