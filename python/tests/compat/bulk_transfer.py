"""Large transfers with back-pressure: at least 8 MiB each way at once through streams, the server reading slowly
in small pieces while the client writes with drain(); both sides check a SHA-256 of what they got.

The server starts reading only once the client's drain() has had to wait, and the client writes until it has
(8 MiB at least): so back-pressure is shown whatever the host's and the kernel's buffer sizes."""

import asyncio
import hashlib
import os

SIZE = 8 * 1024 * 1024
CHUNK = 1 << 18
MOST = 64 << 20  # beyond any buffering on the way (host and kernel): a sender that never waits is a failure


def blob(seed):
    out = bytearray()
    h = hashlib.sha256(seed)
    while len(out) < SIZE:
        h = hashlib.sha256(h.digest())
        out += h.digest() * 64
    return bytes(out[:SIZE])


def chunk(i):
    """The i-th CHUNK of the upload: different for every i, cheap to make again."""
    return hashlib.sha256(b"up %d" % i).digest() * (CHUNK // 32)


async def main():
    down = blob(b"down")
    server_done = asyncio.get_running_loop().create_future()
    client_waited = asyncio.Event()

    async def handle(reader, writer):
        async def send_down():
            view = memoryview(down)
            for i in range(0, SIZE, 100_000):
                writer.write(view[i:i + 100_000])
                await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send_down())
        await client_waited.wait()  # nothing read until the client's writes have backed up
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
        h = hashlib.sha256()
        i = 0
        while (i * CHUNK < SIZE or not waited) and i * CHUNK < MOST:
            data = chunk(i)
            h.update(data)
            writer.write(data)
            i += 1
            if transport.get_write_buffer_size() > 64 * 1024:
                waited += 1
                client_waited.set()
            await writer.drain()
        client_waited.set()  # (only reached without waiting when MOST was sent: the assertion below says so)
        writer.write_eof()
        return waited, i * CHUNK, h.hexdigest()

    async def read_down():
        h = hashlib.sha256()
        got = 0
        while chunk := await reader.read(1 << 16):
            h.update(chunk)
            got += len(chunk)
        return got, h.hexdigest()

    (waited, sent, sent_digest), (got, digest) = await asyncio.wait_for(asyncio.gather(send_up(), read_down()), 120)
    assert (got, digest) == (SIZE, hashlib.sha256(down).hexdigest()), got
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    got, digest = await asyncio.wait_for(server_done, 120)
    assert (got, digest) == (sent, sent_digest), (got, sent)
    assert waited > 0, "drain() never had to wait (%d bytes sent)" % sent
    print("COMPAT OK bulk_transfer (drain waited %d times, %d MiB up)" % (waited, sent >> 20))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(asyncio.run(main()))
