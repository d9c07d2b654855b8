"""Threads and the loop: run_in_executor and asyncio.to_thread while the loop waits, call_soon_threadsafe and
run_coroutine_threadsafe from another thread waking a loop that has nothing else to do, a second event loop
running in another thread at the same time."""

import asyncio
import concurrent.futures
import threading
import time


def blocking_work(n):
    time.sleep(0.05)
    return sum(range(n))


async def main():
    loop = asyncio.get_running_loop()
    results = await asyncio.gather(*(loop.run_in_executor(None, blocking_work, n) for n in (10, 100, 1000)))
    assert results == [45, 4950, 499500], results
    assert await asyncio.to_thread(blocking_work, 5) == 10
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        assert await loop.run_in_executor(pool, blocking_work, 3) == 3

    # the loop has nothing to do but wait for a thread to wake it
    woken = loop.create_future()
    guard = []  # a timer that only bounds a hang: had it fired first, the loop woke for it, not for the thread
    guard_timer = loop.call_later(120, guard.append, "the guard timer fired")
    threading.Timer(0.1, lambda: loop.call_soon_threadsafe(woken.set_result, "woken")).start()
    assert await woken == "woken"
    assert not guard, "the thread's call_soon_threadsafe did not wake the loop"
    guard_timer.cancel()

    async def coro(x):
        await asyncio.sleep(0.01)
        return x * 2

    def from_thread():
        return asyncio.run_coroutine_threadsafe(coro(21), loop).result(30)

    assert await loop.run_in_executor(None, from_thread) == 42

    # another event loop in another thread, both waiting at the same time
    def other_loop():
        async def ping_pong():
            q = asyncio.Queue()
            asyncio.get_running_loop().call_later(0.05, q.put_nowait, "pong")
            return await asyncio.wait_for(q.get(), 30)

        return asyncio.run(ping_pong())

    other = await asyncio.gather(loop.run_in_executor(None, other_loop), asyncio.sleep(0.05, result="mine"))
    assert other == ["pong", "mine"], other
    await loop.shutdown_default_executor()
    print("COMPAT OK threads_executor")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
