"""The exceptions asyncio code handles: a refused connection, reading past EOF (IncompleteReadError), a line
over the limit (LimitOverrunError / ValueError), a peer that goes away (EOF or ConnectionError on write),
writing to a closed transport."""

import asyncio


async def main():
    # a port with nothing listening: bind one, close it, connect to it
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    try:
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
        raise AssertionError("connected to a closed port")
    except ConnectionRefusedError as e:
        assert isinstance(e, OSError)

    async def short(reader, writer):
        writer.write(b"abc")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(short, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await reader.readexactly(10)
        raise AssertionError("readexactly past EOF")
    except asyncio.IncompleteReadError as e:
        assert e.partial == b"abc" and e.expected == 10, (e.partial, e.expected)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()

    async def long_line(reader, writer):
        writer.write(b"y" * 5000 + b"\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(long_line, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1000)
    try:
        await reader.readline()
        raise AssertionError("a line over the limit was read")
    except ValueError:
        pass
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()

    # the peer closes while we keep writing: eventually EOF on read, or a ConnectionError from drain()
    closed = asyncio.get_running_loop().create_future()

    async def hang_up(reader, writer):
        await reader.readexactly(5)
        writer.close()
        await writer.wait_closed()
        closed.set_result(True)

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello")
    await asyncio.wait_for(closed, 30)
    assert await asyncio.wait_for(reader.read(), 30) == b""
    outcome = "no error"
    try:
        for _ in range(200):
            writer.write(b"z" * 65536)
            await writer.drain()
            await asyncio.sleep(0.001)
    except ConnectionError as e:
        outcome = type(e).__name__
    assert outcome in ("BrokenPipeError", "ConnectionResetError", "no error"), outcome
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionError:
        pass
    transport = writer.transport
    assert transport.is_closing()
    transport.write(b"ignored after close")  # asyncio drops it (a warning after many), no exception
    server.close()
    await server.wait_closed()
    print("COMPAT OK errors (%s)" % outcome)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
