"""Many concurrent connections: 50 clients at once, each doing 20 request/response exchanges with the server
(gather), each answer checked; the server counts connections and sees them all close."""

import asyncio

CLIENTS = 50
EXCHANGES = 20


async def main():
    stats = {"open": 0, "max_open": 0, "served": 0, "closed": 0}
    all_closed = asyncio.Event()

    async def handle(reader, writer):
        stats["open"] += 1
        stats["max_open"] = max(stats["max_open"], stats["open"])
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                n = int(line)
                writer.write(b"%d\n" % (n * n))
                await writer.drain()
                stats["served"] += 1
        finally:
            stats["open"] -= 1
            stats["closed"] += 1
            if stats["closed"] == CLIENTS:
                all_closed.set()
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=CLIENTS)
    port = server.sockets[0].getsockname()[1]
    all_open = asyncio.Event()
    connected = 0

    async def client(i):
        nonlocal connected
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        connected += 1
        if connected == CLIENTS:
            all_open.set()
        await asyncio.wait_for(all_open.wait(), 60)  # every connection is open at once
        total = 0
        for k in range(EXCHANGES):
            n = i * 1000 + k
            writer.write(b"%d\n" % n)
            await writer.drain()
            answer = int(await reader.readline())
            assert answer == n * n, (n, answer)
            total += 1
        writer.close()
        await writer.wait_closed()
        return total

    results = await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(CLIENTS))), 120)
    assert results == [EXCHANGES] * CLIENTS, results
    await asyncio.wait_for(all_closed.wait(), 120)  # the server sees every client's end of stream
    assert stats["served"] == CLIENTS * EXCHANGES, stats
    assert stats["closed"] == CLIENTS and stats["max_open"] == CLIENTS, stats
    server.close()
    await server.wait_closed()
    print("COMPAT OK many_connections")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
