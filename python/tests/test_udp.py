"""UDP (ABI 1.2) under asyncio on the kernel's loop, through the real kernel (``ukernel run``), against host UDP
sockets on 127.0.0.1 that this test owns: ``create_datagram_endpoint`` with ``remote_addr`` (a default destination),
without addresses (``sendto`` with an address), and with ``local_addr`` (a server hearing any sender); the readiness
of a kernel UDP socket comes from the kernel (the selector's parked ``io_poll``). A destination outside the
``udp:`` rules is refused with the rule to add, and the host socket at that port received nothing.

Also the loop's other host descriptors (``add_reader`` on an ``os.pipe()``, ``connect_read_pipe`` and
``connect_write_pipe``), which the selector watches in its ``epoll``."""

import socket
import threading

import pytest

from test_e2e_kernel import NET_PENDING, PROBE, check, run_app, write_app

pytestmark = pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")


@pytest.fixture
def app_dir(tmp_path):
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    return tmp_path / "app"


class HostEcho:
    """A host UDP socket on 127.0.0.1 answering ``b"pong:" + datagram`` to its sender; ``b"call:PORT"`` makes a
    second host socket (a sender no rule names) send ``b"hello from a stranger"`` to 127.0.0.1:PORT instead."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.stop_r, self.stop_w = socket.socketpair()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import select

        while True:
            ready, _, _ = select.select([self.sock, self.stop_r], [], [])
            if self.stop_r in ready:
                return
            data, peer = self.sock.recvfrom(65536)
            if data.startswith(b"call:"):
                self.stranger.sendto(b"hello from a stranger", ("127.0.0.1", int(data[5:])))
            else:
                self.sock.sendto(b"pong:" + data, peer)

    def close(self):
        self.stop_w.send(b"x")
        self.thread.join(60)
        for s in (self.sock, self.stranger, self.stop_r, self.stop_w):
            s.close()


@pytest.fixture
def echo():
    e = HostEcho()
    yield e
    e.close()


def test_datagram_endpoints_round_trip_with_a_host_udp_socket(app_dir, echo):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a host port no udp: rule allows
    silent.bind(("127.0.0.1", 0))
    silent.setblocking(False)
    try:
        write_app(app_dir, """
            name = "udp"
            entry = "src/main.py"
            [caps]
            grant = ["LOG", "NET", "IPC"]
            [caps.net]
            connect = ["udp:127.0.0.1:%d", "127.0.0.1:%d"]
            bind = ["udp:127.0.0.1:*"]
            """ % (echo.port, silent.getsockname()[1]), {"src/main.py": """
            import asyncio
            import os
            import socket

            import ukernel


            class Collect(asyncio.DatagramProtocol):
                def __init__(self):
                    self.queue = asyncio.Queue()
                    self.errors = asyncio.Queue()

                def datagram_received(self, data, addr):
                    self.queue.put_nowait((data, addr))

                def error_received(self, exc):
                    self.errors.put_nowait(exc)


            async def main():
                ukernel.cap_acquire("LOG")
                loop = asyncio.get_running_loop()
                echo = ("127.0.0.1", int(os.environ["ECHO_PORT"]))
                silent = ("127.0.0.1", int(os.environ["SILENT_PORT"]))

                # a client with a default destination (connect)
                t, p = await loop.create_datagram_endpoint(Collect, remote_addr=echo)
                assert isinstance(t.get_extra_info("socket")._sock, ukernel.KernelSocket)
                assert t.get_extra_info("peername") == echo
                t.sendto(b"ping")
                assert await asyncio.wait_for(p.queue.get(), 60) == (b"pong:ping", echo)
                t.close()

                # no address at all: every sendto names its destination (an implicit bind)
                t, p = await loop.create_datagram_endpoint(Collect, family=socket.AF_INET)
                for i in range(3):
                    t.sendto(b"n%d" % i, echo)
                got = sorted([(await asyncio.wait_for(p.queue.get(), 60))[0] for _ in range(3)])
                assert got == [b"pong:n0", b"pong:n1", b"pong:n2"], got

                # a destination no udp: rule allows: the transport reports the refusal, naming the rule
                t.sendto(b"secret", silent)
                exc = await asyncio.wait_for(p.errors.get(), 60)
                assert isinstance(exc, PermissionError), exc
                assert "udp:127.0.0.1:%d" % silent[1] in str(exc) and "[caps.net]" in str(exc), exc
                ukernel.info("refusal says: %s" % exc)
                t.close()
                try:
                    await loop.create_datagram_endpoint(Collect, remote_addr=silent)
                    raise AssertionError("connected to a port no udp: rule allows")
                except PermissionError as e:
                    assert "udp:127.0.0.1:%d" % silent[1] in str(e), e

                # a server: bound by the kernel (udp: rule of net.bind), it hears any sender
                t, p = await loop.create_datagram_endpoint(Collect, local_addr=("127.0.0.1", 0))
                port = t.get_extra_info("sockname")[1]
                assert port > 0
                t.sendto(b"call:%d" % port, echo)
                data, addr = await asyncio.wait_for(p.queue.get(), 60)
                assert data == b"hello from a stranger" and addr[0] == "127.0.0.1" and addr != echo, (data, addr)
                t.close()
                try:
                    await loop.create_datagram_endpoint(Collect, local_addr=("0.0.0.0", 0))
                    raise AssertionError("bound outside net.bind")
                except PermissionError as e:
                    assert "udp:0.0.0.0:0" in str(e), e

                # the loop's sock_* calls on a non-blocking kernel UDP socket
                s = ukernel.KernelSocket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setblocking(False)
                assert await loop.sock_sendto(s, b"low", echo) == 3
                assert await asyncio.wait_for(loop.sock_recvfrom(s, 100), 60) == (b"pong:low", echo)
                s.close()

                # a blocking KernelSocket, as sync code would use it
                s = ukernel.KernelSocket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(60)
                assert s.sendto(b"sync", echo) == 4
                assert s.recvfrom(100) == (b"pong:sync", echo)
                s.close()
                ukernel.info("UDP OK")
                return 0
            """})
        run = run_app(app_dir, 600, "-e", "ECHO_PORT=%d" % echo.port, "-e", "SILENT_PORT=%d" % silent.getsockname()[1])
        check(run, "UDP OK")
        try:
            leaked = silent.recv(100)
        except BlockingIOError:
            leaked = None
        assert leaked is None, "the refused datagram reached the host: %r" % leaked
    finally:
        silent.close()


def test_pipes_on_the_kernel_loop(app_dir):
    write_app(app_dir, """
        name = "pipes"
        entry = "src/main.py"
        [caps]
        grant = ["LOG", "IPC"]
        """, {"src/main.py": """
        import asyncio
        import os

        import ukernel


        async def main():
            ukernel.cap_acquire("LOG")
            loop = asyncio.get_running_loop()
            assert isinstance(loop, ukernel.KernelEventLoop)

            # add_reader on a pipe the worker made: watched in the selector's epoll
            r, w = os.pipe()
            seen = loop.create_future()
            loop.add_reader(r, lambda: seen.done() or seen.set_result(os.read(r, 10)))
            os.write(w, b"p")
            assert await asyncio.wait_for(seen, 60) == b"p"
            assert loop.remove_reader(r)
            os.close(r)
            os.close(w)

            # asyncio's pipe transports
            r, w = os.pipe()
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(r, "rb", 0))
            wt, wp = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(w, "wb", 0))
            wt.write(b"through a pipe\\n")
            assert await asyncio.wait_for(reader.readline(), 60) == b"through a pipe\\n"
            wt.close()
            assert await asyncio.wait_for(reader.read(), 60) == b"", "end of file once the writer closed"
            ukernel.info("PIPES OK")
            return 0
        """})
    check(run_app(app_dir, 600), "PIPES OK")
