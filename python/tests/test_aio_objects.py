"""``ukernel.aio`` through the real kernel: channels (send/recv, ``async for``, a handle moved in a message,
send waiting on a full queue), spawning a task and awaiting its exit code, files read and written without blocking
the loop, the readiness helpers with a timeout."""

from test_e2e_kernel import PROBE, check, run_app, write_app

import pytest


@pytest.fixture
def app_dir(tmp_path):
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    return tmp_path / "app"


def test_channels_tasks_and_files(app_dir):
    write_app(app_dir, """
        name = "aio-objects"
        entry = "src/main.py"
        [caps]
        grant = ["LOG", "TASK", "IPC", "IO"]
        [caps.io]
        data = { path = "data", mode = "rw" }
        [limits]
        channel_bytes = 65536

        [[task]]
        name = "child"
        entry = "src/child.py"
        caps = ["LOG", "IPC"]
        start = "spawn"
        """, {"src/main.py": """
        import asyncio

        import ukernel
        import ukernel.aio as aio


        async def main():
            ukernel.cap_acquire("LOG")
            a, b = aio.Channel.pair()
            assert a.fileno() >= 1 << 30 and a.handle != b.handle
            await a.send(b"one")
            assert await b.recv() == (b"one", [])
            # a full queue: send() waits until the reader makes room
            payload = b"x" * 16_000
            received = []

            async def slow_reader():
                async for data, handles in b:
                    received.append(len(data))
                    await asyncio.sleep(0.002)

            reader = asyncio.create_task(slow_reader())
            for _ in range(40):  # 640 KB through a 64 KiB queue
                await a.send(payload)
            a.close()
            await asyncio.wait_for(reader, 30)
            assert received == [16_000] * 40, received

            # receive with a timeout on an empty channel
            c, d = aio.Channel.pair()
            assert await aio.wait_readable(d, timeout=0.05) is False
            assert await aio.wait_writable(c, timeout=1) is True

            # spawn a task, move a channel end into it, pass it another end inside a message
            reply_mine, reply_theirs = aio.Channel.pair()
            child = await aio.spawn("child", "LOG|IPC", handles=[d])
            assert d.closed and isinstance(child, aio.Task)
            await c.send(b"reply here", [reply_theirs])
            assert reply_theirs.closed
            msg = await asyncio.wait_for(reply_mine.recv(), 30)
            assert msg.data == b"child got: reply here" and msg.handles == [], msg
            assert await child.wait(timeout=30) == 7
            assert child.exit_code == 7 and child.status() == (ukernel.TASK_EXITED, 7)
            c.close()

            # files: always ready, awaited for symmetry
            async with await aio.open("data", "log.txt", "w") as f:
                assert await f.write("line one\\n") == 9
                assert await f.write(b"line two\\n") == 9
                assert (await f.stat())[0] == 18
            f = await aio.open("data", "log.txt")
            assert await f.read() == b"line one\\nline two\\n"
            assert await f.seek(5) == 5 and await f.read(3) == b"one" and await f.tell() == 8
            await f.aclose()
            async with await aio.open("data", "log.txt", "a") as f:
                await f.write(b"line three\\n")
            async with await aio.open("data", "log.txt", "rb") as f:
                assert (await f.read()).count(b"\\n") == 3
            try:
                await aio.open("data", "../escape.txt", "w")
                raise AssertionError("escaped the preopen")
            except PermissionError:
                pass
            ukernel.info("AIO OBJECTS OK")
            return 0
        """, "src/child.py": """
        import ukernel.aio as aio


        async def main():
            (ch,) = [aio.Channel(h) for h in aio.inherited_handles()]
            data, handles = await ch.recv()
            reply = aio.Channel(handles[0])
            await reply.send(b"child got: " + data)
            reply.close()
            return 7
        """}, dirs=["data"])
    check(run_app(app_dir), "AIO OBJECTS OK")
