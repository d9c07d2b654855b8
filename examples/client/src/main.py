"""client: connect out with asyncio.open_connection — to an address [caps.net] connect allows, and to one it does
not, which fails with PermissionError naming the rule to add. Self-contained: the allowed peer is a tiny server
started by the app itself on an ephemeral loopback port.

FORBIDDEN (default 203.0.113.7:80, a documentation address) is the address tried without permission.
"""

import asyncio
import os

import ukernel


async def main():
    ukernel.cap_acquire("LOG")

    async def greet(reader, writer):
        name = (await reader.readline()).decode().strip()
        writer.write(("hello, %s\n" % name).encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)  # port 0: net.bind allows 127.0.0.1:0
    host, port = server.sockets[0].getsockname()[:2]
    ukernel.info("server on %s:%d" % (host, port))

    reader, writer = await asyncio.open_connection(host, port)  # allowed: connect = ["127.0.0.1:*"]
    writer.write(b"ukernel\n")
    await writer.drain()
    answer = (await reader.readline()).decode().strip()
    ukernel.info("allowed %s:%d answered: %s" % (host, port, answer))
    writer.close()
    await writer.wait_closed()

    target = os.environ.get("FORBIDDEN", "203.0.113.7:80")
    fhost, _, fport = target.rpartition(":")
    try:
        await asyncio.wait_for(asyncio.open_connection(fhost, int(fport)), 10)
        ukernel.error("connected to %s: the manifest should have refused it" % target)
        return 1
    except PermissionError as e:
        ukernel.info("refused as expected: %s" % e)
    server.close()
    await server.wait_closed()
    return 0 if answer == "hello, ukernel" else 1
