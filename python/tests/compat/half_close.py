"""Half-close both ways: the client shuts down writing (write_eof) and keeps reading; the server reads to EOF,
answers, then closes; and a server that half-closes first while the client keeps sending."""

import asyncio


async def main():
    async def summing(reader, writer):
        total = 0
        while line := await reader.readline():
            total += int(line)
        assert reader.at_eof()
        # the client can no longer send, but it still reads: answer after its EOF
        writer.write(b"sum %d\n" % total)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(summing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for i in range(1, 101):
        writer.write(b"%d\n" % i)
    await writer.drain()
    writer.write_eof()
    try:
        writer.write(b"more")
        raise AssertionError("write after write_eof must fail")
    except RuntimeError:
        pass
    assert await reader.readline() == b"sum 5050\n"
    assert await reader.read() == b""
    assert reader.at_eof()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()

    async def greeter(reader, writer):
        writer.write(b"greetings; I will not write again\n")
        writer.write_eof()  # the server half-closes first
        data = await reader.read()  # and keeps reading until the client's EOF
        writer.close()
        assert data == b"x" * 100_000, len(data)
        done.set_result(len(data))

    done = asyncio.get_running_loop().create_future()
    server = await asyncio.start_server(greeter, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await reader.readline() == b"greetings; I will not write again\n"
    assert await reader.read() == b"" and reader.at_eof()
    writer.write(b"x" * 100_000)  # our direction is still open
    await writer.drain()
    writer.write_eof()
    assert await asyncio.wait_for(done, 30) == 100_000
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    print("COMPAT OK half_close")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
