"""The echo server of bench/echo.sh: an ordinary asyncio streams server, run unchanged on bare CPython
(``python3 main.py``) and under ukernel (``ukernel run bench/echo-app -e PORT=...``).

It listens on 127.0.0.1:$PORT and echoes whatever each connection sends until the peer closes. A connection
whose first bytes are ``QUIT`` stops the server (the harness's way to end a run the same way on both sides).
"""

import asyncio
import os

CHUNK = 256 * 1024


async def main():
    port = int(os.environ.get("PORT", "8007"))
    done = asyncio.Event()

    async def echo(reader, writer):
        try:
            first = await reader.read(CHUNK)
            if first.startswith(b"QUIT"):
                done.set()
                return
            data = first
            while data:
                writer.write(data)
                await writer.drain()
                data = await reader.read(CHUNK)
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", port)
    print("echo server listening on 127.0.0.1:%d" % port, flush=True)
    async with server:
        await done.wait()
    stats = getattr(getattr(asyncio.get_running_loop(), "_selector", None), "stats", None)
    if stats is not None:  # under ukernel: what the kernel event loop did (io_poll calls, batches)
        print("loop stats: %s" % stats(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
