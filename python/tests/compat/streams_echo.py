"""Streams: start_server + open_connection, readline/readexactly/readuntil/read, write/writelines/drain,
write_eof and at_eof, get_extra_info, close/wait_closed, `async with server`, serve_forever cancelled."""

import asyncio


async def handle(reader, writer):
    peer = writer.get_extra_info("peername")
    assert isinstance(peer, tuple) and peer[0] == "127.0.0.1", peer
    hello = await reader.readline()
    assert hello == b"HELLO server\n", hello
    writer.write(b"HELLO client\n")
    await writer.drain()
    size = int((await reader.readuntil(b":")).rstrip(b":"))
    blob = await reader.readexactly(size)
    writer.writelines([b"got ", str(len(blob)).encode(), b" bytes\n"])
    rest = await reader.read()  # until EOF (the client's write_eof)
    assert reader.at_eof()
    writer.write(rest[::-1])
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    assert server.is_serving()
    host, port = server.sockets[0].getsockname()[:2]
    assert host == "127.0.0.1" and port > 0, (host, port)
    async with server:
        serving = asyncio.create_task(server.serve_forever())
        for round_ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert writer.get_extra_info("peername")[:2] == ("127.0.0.1", port)
            sockname = writer.get_extra_info("sockname")
            assert sockname[0] == "127.0.0.1" and sockname[1] > 0, sockname
            assert writer.get_extra_info("socket") is not None
            assert writer.can_write_eof()
            writer.write(b"HELLO server\n")
            await writer.drain()
            assert await reader.readline() == b"HELLO client\n"
            blob = bytes(range(256)) * (40 + round_)
            writer.write(b"%d:" % len(blob) + blob)
            await writer.drain()
            assert await reader.readline() == b"got %d bytes\n" % len(blob)
            writer.write(b"tail-of-the-stream")
            writer.write_eof()
            assert await reader.read() == b"maerts-eht-fo-liat"
            assert reader.at_eof()
            writer.close()
            await writer.wait_closed()
            assert writer.is_closing()
        serving.cancel()
        try:
            await serving
        except asyncio.CancelledError:
            pass
    assert not server.is_serving()
    await server.wait_closed()
    print("COMPAT OK streams_echo")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
