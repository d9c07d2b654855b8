"""UDP echo (bench/udp.sh): every datagram is sent back to its sender; a datagram QUIT ends the server. The same
file runs under ukernel (the loader calls main()) and on bare CPython (python3 main.py)."""

import asyncio
import os


class Echo(asyncio.DatagramProtocol):
    def __init__(self, done):
        self.done = done
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if data == b"QUIT":
            if not self.done.done():
                self.done.set_result(None)
            return
        self.transport.sendto(data, addr)


async def main():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(lambda: Echo(done),
                                                       local_addr=("127.0.0.1", int(os.environ["PORT"])))
    await done
    transport.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
