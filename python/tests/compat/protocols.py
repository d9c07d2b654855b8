"""Protocols and transports: create_server/create_connection with Protocol classes, data_received,
eof_received, connection_lost, write-buffer limits with pause_writing/resume_writing, pause_reading/
resume_reading, get_write_buffer_size, abort."""

import asyncio

CHUNK = 64 * 1024
TOTAL = 32 * 1024 * 1024  # far beyond what the sockets buffer (host and kernel), so writing must pause


class Sink(asyncio.Protocol):
    """Server side: counts bytes; pauses reading for a while every 1 MiB; answers the total at EOF."""

    def __init__(self, done):
        self.done = done
        self.count = 0
        self.pauses = 0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        assert transport.get_extra_info("peername")[0] == "127.0.0.1"
        assert transport.is_reading()

    def data_received(self, data):
        before = self.count
        self.count += len(data)
        if before // (1 << 20) != self.count // (1 << 20):
            self.transport.pause_reading()
            assert not self.transport.is_reading()
            self.pauses += 1
            asyncio.get_running_loop().call_later(0.01, self.transport.resume_reading)

    def eof_received(self):
        self.transport.write(b"total %d pauses %d" % (self.count, self.pauses))
        self.transport.close()
        return True

    def connection_lost(self, exc):
        self.done.set_result((self.count, exc))


class Source(asyncio.Protocol):
    """Client side: writes TOTAL bytes, honouring pause_writing/resume_writing."""

    def __init__(self, finished):
        self.finished = finished
        self.paused = 0
        self.resumed = 0
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.reply = b""
        self.transport = None
        self.eof = False

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=256 * 1024, low=64 * 1024)
        assert transport.get_write_buffer_limits() == (64 * 1024, 256 * 1024)

    def pause_writing(self):
        self.paused += 1
        self.can_write.clear()

    def resume_writing(self):
        self.resumed += 1
        self.can_write.set()

    def data_received(self, data):
        self.reply += data

    def eof_received(self):
        self.eof = True

    def connection_lost(self, exc):
        self.finished.set_result(exc)


class Aborter(asyncio.Protocol):
    def connection_made(self, transport):
        transport.write(b"bye")
        transport.abort()

    def connection_lost(self, exc):
        pass


class Collector(asyncio.Protocol):
    def __init__(self, done):
        self.data = b""
        self.done = done

    def data_received(self, data):
        self.data += data

    def connection_lost(self, exc):
        self.done.set_result(self.data)


async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    server = await loop.create_server(lambda: Sink(done), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    finished = loop.create_future()
    transport, source = await loop.create_connection(lambda: Source(finished), "127.0.0.1", port)
    assert transport.get_extra_info("peername")[:2] == ("127.0.0.1", port)
    block = bytes(range(256)) * (CHUNK // 256)
    sent = 0
    while sent < TOTAL:
        await source.can_write.wait()
        transport.write(block)
        sent += len(block)
        assert transport.get_write_buffer_size() >= 0
    transport.write_eof()
    exc = await asyncio.wait_for(finished, 60)
    assert exc is None, exc
    count, server_exc = await asyncio.wait_for(done, 60)
    assert count == TOTAL and server_exc is None, (count, server_exc)
    assert source.reply.startswith(b"total %d pauses " % TOTAL), source.reply
    assert int(source.reply.split()[-1]) >= 3, source.reply
    assert source.paused >= 1 and source.resumed == source.paused, (source.paused, source.resumed)
    server.close()
    await server.wait_closed()

    # abort(): the peer sees the connection end (with or without the bytes written just before)
    server = await loop.create_server(Aborter, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    got = loop.create_future()
    await loop.create_connection(lambda: Collector(got), "127.0.0.1", port)
    data = await asyncio.wait_for(got, 30)
    assert data in (b"", b"bye"), data
    server.close()
    await server.wait_closed()
    print("COMPAT OK protocols")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
