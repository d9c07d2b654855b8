"""Large transfers with back-pressure: 8 MiB each way at once through streams, the server reading slowly in
small pieces while the client writes with drain(); both sides check a SHA-256 of what they got."""

import asyncio
import hashlib
import os

SIZE = 8 * 1024 * 1024


def blob(seed):
    out = bytearray()
    h = hashlib.sha256(seed)
    while len(out) < SIZE:
        h = hashlib.sha256(h.digest())
        out += h.digest() * 64
    return bytes(out[:SIZE])


async def main():
    up = blob(b"up")
    down = blob(b"down")
    server_done = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        async def send_down():
            view = memoryview(down)
            for i in range(0, SIZE, 100_000):
                writer.write(view[i:i + 100_000])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send_down())
        h = hashlib.sha256()
        got = 0
        while True:
            chunk = await reader.read(7_919)  # small reads: the client's writes must wait
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
            if got % (1 << 20) < 7_919:
                await asyncio.sleep(0.005)
        await sender
        writer.close()
        await writer.wait_closed()
        server_done.set_result((got, h.hexdigest()))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    transport = writer.transport
    transport.set_write_buffer_limits(high=64 * 1024)

    async def send_up():
        waited = 0
        for i in range(0, SIZE, 1 << 18):
            writer.write(up[i:i + (1 << 18)])
            if transport.get_write_buffer_size() > 64 * 1024:
                waited += 1
            await writer.drain()
        writer.write_eof()
        return waited

    async def read_down():
        h = hashlib.sha256()
        got = 0
        while chunk := await reader.read(1 << 16):
            h.update(chunk)
            got += len(chunk)
        return got, h.hexdigest()

    waited, (got, digest) = await asyncio.wait_for(asyncio.gather(send_up(), read_down()), 120)
    assert (got, digest) == (SIZE, hashlib.sha256(down).hexdigest()), got
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    got, digest = await asyncio.wait_for(server_done, 60)
    assert (got, digest) == (SIZE, hashlib.sha256(up).hexdigest()), got
    assert waited > 0, "drain() never had to wait"
    print("COMPAT OK bulk_transfer (drain waited %d times)" % waited)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(asyncio.run(main()))
