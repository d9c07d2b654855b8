"""The floors of bench/direct_accept.py: serve CONNS short-lived connections on 127.0.0.1:PORT with bare CPython.

    python3 accept_floor.py sync PORT CONNS      one at a time, the loop of bench/apps/accept on a host listener
    python3 accept_floor.py asyncio PORT CONNS   asyncio.start_server (what an unconfined asyncio app does)
"""

import asyncio
import socket
import sys

RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"


def sync(port, conns):
    server = socket.create_server(("127.0.0.1", port), backlog=128)
    for _ in range(conns):
        sock, _ = server.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        sock.sendall(RESPONSE)
        sock.close()


async def serve_asyncio(port, conns):
    done = asyncio.get_running_loop().create_future()
    served = 0

    async def handle(reader, writer):
        nonlocal served
        await reader.readuntil(b"\r\n\r\n")
        writer.write(RESPONSE)
        await writer.drain()
        writer.close()
        served += 1
        if served == conns and not done.done():
            done.set_result(None)

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=128)
    async with server:
        await done


if __name__ == "__main__":
    mode, port, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if mode == "sync":
        sync(port, conns)
    else:
        asyncio.run(serve_asyncio(port, conns))
