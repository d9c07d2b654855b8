"""echo: a TCP echo server on 127.0.0.1:$PORT (default 8007), written with nothing but asyncio.

Try it: `ukernel run examples/echo`, then `nc 127.0.0.1 8007` in another terminal. Ctrl-C (or SIGTERM, which
`ukernel run` passes on as SIGTERM) closes the server cleanly; ECHO_LIMIT=N stops after N connections.
"""

import asyncio
import os
import signal

import ukernel


async def main():
    port = int(os.environ.get("PORT", "8007"))
    limit = int(os.environ.get("ECHO_LIMIT", "0"))
    ukernel.cap_acquire("LOG")
    stop = asyncio.Event()
    served = 0

    async def echo(reader, writer):
        nonlocal served
        peer = "%s:%d" % writer.get_extra_info("peername")[:2]
        ukernel.info("connection from %s" % peer)
        total = 0
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
                total += len(data)
        except ConnectionError as e:
            ukernel.warn("%s: %s" % (peer, e))
        finally:
            writer.close()
        ukernel.info("%s closed after %d bytes" % (peer, total))
        served += 1
        if limit and served >= limit:
            stop.set()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)  # a clean stop: close the server, finish the connections
    loop.add_signal_handler(signal.SIGINT, stop.set)
    server = await asyncio.start_server(echo, "127.0.0.1", port)
    ukernel.info("echo server listening on %s:%d" % server.sockets[0].getsockname()[:2])
    async with server:
        await stop.wait()
    ukernel.info("echo server stopped after %d connection(s)" % served)
    return 0
