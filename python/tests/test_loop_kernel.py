"""``KernelEventLoop`` against the real kernel: the loader's policy (``asyncio.run`` in an app uses it), wake-ups
from other threads (asyncio's self-pipe in the selector's epoll) while an ``io_poll`` is parked, kernel calls from
other threads while the loop waits (the client routes replies by seq), ``run_in_executor`` with and without IPC in
the grant, the direct path (granted sockets under asyncio's transports) and the kernel-buffered one, the ``sock_*``
API on kernel sockets, refusals that name the manifest rule, bytes delivered on ``close()``, and what a worker
cannot have. Each test runs one app through ``<repo>/ukernel run``."""

import pytest

from test_e2e_kernel import NET_PENDING, PROBE, check, run_app, write_app

pytestmark = pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")


@pytest.fixture
def app_dir(tmp_path):
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    return tmp_path / "app"


MANIFEST = """
    name = "loop"
    entry = "src/main.py"
    [caps]
    grant = ["LOG", "NET", "IPC", "TIME"]
    [caps.net]
    bind = ["127.0.0.1:*"]
    connect = ["127.0.0.1:*"]
    """


def test_asyncio_run_in_an_app_uses_the_kernel_loop(app_dir):
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import asyncio

        import ukernel


        async def probe():
            loop = asyncio.get_running_loop()
            await asyncio.sleep(0.01)
            return type(loop).__name__, type(loop._selector).__name__


        def main():  # a sync entry that runs asyncio itself, as a script would
            ukernel.cap_acquire("LOG")
            assert type(asyncio.get_event_loop_policy()).__name__ == "KernelEventLoopPolicy"
            assert asyncio.run(probe()) == ("KernelEventLoop", "KernelSelector")
            loop = asyncio.new_event_loop()
            try:
                assert isinstance(loop, ukernel.KernelEventLoop)
                assert loop.run_until_complete(probe())[0] == "KernelEventLoop"
            finally:
                loop.close()
            ukernel.info("POLICY OK")
            return 0
        """})
    check(run_app(app_dir), "POLICY OK")


def test_threads_wake_the_loop_and_call_the_kernel_while_it_waits(app_dir):
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import asyncio
        import threading

        import ukernel


        async def main():
            ukernel.cap_acquire("LOG", "TIME")
            loop = asyncio.get_running_loop()
            assert isinstance(loop, ukernel.KernelEventLoop)

            # call_soon_threadsafe from a thread while the loop's io_poll waits with no timeout
            fut = loop.create_future()
            guard = []  # only bounds a hang: had it fired first, the poll ended for it, not for the thread
            guard_timer = loop.call_later(120, guard.append, "the guard timer fired")
            threading.Timer(0.2, loop.call_soon_threadsafe, (fut.set_result, "woken")).start()
            assert await fut == "woken"
            assert not guard, "call_soon_threadsafe did not wake the parked io_poll"
            guard_timer.cancel()
            assert loop._selector.get_key(loop._ssock).data is not None  # asyncio's own self-pipe, in the epoll

            # threads make kernel calls while the loop thread waits for its poll's reply (seq routing)
            client = ukernel.client()
            errors = []
            counts = []

            def hammer(n):
                try:
                    me = ukernel.task_self()
                    for i in range(n):
                        assert ukernel.task_self() == me
                        assert client.time_monotonic_ns() > 0
                    counts.append(n)
                except Exception as e:  # reported below
                    errors.append(e)

            threads = [threading.Thread(target=hammer, args=(200,)) for _ in range(4)]
            for t in threads:
                t.start()
            await asyncio.sleep(0.5)  # a parked io_poll meanwhile
            done = await loop.run_in_executor(None, lambda: [t.join(30) for t in threads])
            assert not errors and counts == [200] * 4, (errors, counts)

            # run_in_executor with kernel calls, results back through the wake-up channel
            stamps = await asyncio.gather(*(loop.run_in_executor(None, ukernel.time_monotonic_ns) for _ in range(8)))
            assert all(s > 0 for s in stamps)

            # a second kernel loop in another thread, both waiting in io_poll at once
            def other():
                async def tick():
                    await asyncio.sleep(0.2)
                    return type(asyncio.get_running_loop()).__name__
                return asyncio.run(tick())

            name, _ = await asyncio.gather(loop.run_in_executor(None, other), asyncio.sleep(0.2))
            assert name == "KernelEventLoop", name
            ukernel.info("THREADS OK: %s" % loop._selector.stats())
            return 0
        """})
    check(run_app(app_dir), "THREADS OK")


def test_connections_and_servers_run_on_granted_sockets(app_dir):
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import asyncio

        import ukernel
        from ukernel._client import KEY_BASE

        N = 40  # connections at once: the server's accepts are batched


        async def conversation(port, i):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            sock = writer.get_extra_info("socket")
            host = sock.fileno() < KEY_BASE
            for k in range(20):
                msg = b"%d-%d;" % (i, k)
                writer.write(msg)
                await writer.drain()
                assert await reader.readexactly(len(msg)) == msg
            writer.write_eof()
            assert await reader.read() == b""  # the server's close reached this end
            writer.close()
            await writer.wait_closed()
            return host


        async def serve_and_talk(direct):
            ukernel.KernelEventLoop.direct = direct
            server_sides = []

            async def echo(reader, writer):
                server_sides.append(writer.get_extra_info("socket").fileno() < KEY_BASE)
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
                writer.close()

            server = await asyncio.start_server(echo, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            clients = await asyncio.wait_for(asyncio.gather(*(conversation(port, i) for i in range(N))), 120)
            server.close()
            await server.wait_closed()
            return clients, server_sides


        async def refusals():
            try:
                await asyncio.open_connection("127.0.0.2", 9)
                raise AssertionError("a connect outside net.connect worked")
            except PermissionError as e:
                assert "net.connect" in str(e) or "ukernel.toml" in str(e), e
            server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            server.close()
            await server.wait_closed()
            try:
                await asyncio.open_connection("127.0.0.1", port)
                raise AssertionError("a connect to a closed port worked")
            except ConnectionRefusedError:
                pass


        def main():
            ukernel.cap_acquire("LOG")
            clients, servers = asyncio.run(serve_and_talk(True))
            assert clients == [True] * N and servers == [True] * N, (clients, servers)  # host descriptors
            asyncio.run(refusals())
            clients, servers = asyncio.run(serve_and_talk(False))  # UKERNEL_NET_DIRECT=0: kernel-buffered
            assert clients == [False] * N and servers == [False] * N, (clients, servers)
            ukernel.info("DIRECT OK")
            return 0
        """})
    check(run_app(app_dir), "DIRECT OK")


def test_without_ipc_executors_still_work(app_dir):
    write_app(app_dir, """
        name = "no-ipc"
        entry = "src/main.py"
        [caps]
        grant = ["LOG"]
        """, {"src/main.py": """
        import asyncio
        import time

        import ukernel


        def slow():
            time.sleep(0.1)
            return "done"


        async def main():
            ukernel.cap_acquire("LOG")
            loop = asyncio.get_running_loop()
            assert await asyncio.wait_for(loop.run_in_executor(None, slow), 20) == "done"
            assert await asyncio.wait_for(asyncio.sleep(0.01, "slept"), 20) == "slept"
            assert ukernel.cap_query()[0] == ukernel.Cap.LOG  # and nothing was acquired behind the app's back
            ukernel.info("NO IPC OK")
            return 0
        """})
    check(run_app(app_dir), "NO IPC OK")


def test_sock_api_refusals_and_unsupported_features(app_dir):
    write_app(app_dir, MANIFEST.replace('connect = ["127.0.0.1:*"]', 'connect = ["127.0.0.1:*", "localhost:*"]'), {
        "src/main.py": """
        import asyncio
        import os
        import socket

        import ukernel
        from ukernel import KernelSocket


        async def main():
            ukernel.cap_acquire("LOG")
            loop = asyncio.get_running_loop()

            # loop.sock_* on kernel sockets
            server = KernelSocket()
            server.setblocking(False)
            server.bind(("127.0.0.1", 0))
            server.listen()
            port = server.getsockname()[1]
            client = KernelSocket()
            client.setblocking(False)
            accepting = asyncio.create_task(loop.sock_accept(server))
            await loop.sock_connect(client, ("127.0.0.1", port))
            conn, peer = await asyncio.wait_for(accepting, 20)
            assert isinstance(conn, KernelSocket) and peer == client.getsockname()
            conn.setblocking(False)
            await loop.sock_sendall(client, b"a" * 200_000)
            got = bytearray()
            while len(got) < 200_000:
                got += await loop.sock_recv(conn, 65536)
            assert got == b"a" * 200_000
            buf = bytearray(5)
            await loop.sock_sendall(conn, b"hello")
            n = 0
            while n < 5:
                n += await loop.sock_recv_into(client, memoryview(buf)[n:])
            assert buf == b"hello"
            for s in (client, conn, server):
                s.close()

            # names go to the kernel: getaddrinfo does not resolve, the kernel does at connect
            infos = await loop.getaddrinfo("db.example", 5432)
            assert infos[0][4] == ("db.example", 5432) and infos[0][0] == socket.AF_INET, infos
            srv = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
            reader, writer = await asyncio.open_connection("localhost", srv.sockets[0].getsockname()[1])
            assert writer.get_extra_info("peername")[0] == "127.0.0.1"
            writer.close()
            srv.close()

            # refusals name the rule to add
            try:
                await asyncio.open_connection("127.0.0.2", 80)
                raise AssertionError("connect outside net.connect")
            except PermissionError as e:
                assert "127.0.0.2:80" in str(e) and "[caps.net]" in str(e), e
            try:
                await asyncio.start_server(lambda r, w: None, "0.0.0.0", 8080)
                raise AssertionError("bind outside net.bind")
            except PermissionError as e:
                assert "0.0.0.0:8080" in str(e) and "bind" in str(e), e
                ukernel.info("refusal says: %s" % e)

            # what a worker cannot have
            for what, make in [("unix", lambda: asyncio.open_unix_connection("/tmp/x"))]:
                try:
                    await make()
                    raise AssertionError(what + " worked")
                except NotImplementedError as e:
                    assert "ukernel" in str(e) or "ABI" in str(e), (what, e)
            # a program the manifest does not list: refused, saying what to add
            try:
                await asyncio.create_subprocess_exec("true")
                raise AssertionError("an unlisted program ran")
            except PermissionError as e:
                assert '[caps] subprocess = ["true"]' in str(e), e
            try:  # the shell is a program like any other
                await asyncio.create_subprocess_shell("true")
                raise AssertionError("the shell ran unlisted")
            except PermissionError as e:
                assert '[caps] subprocess = ["/bin/sh"]' in str(e), e
            # a pipe of the worker's own is watched in the same epoll
            pr, pw = os.pipe()
            reader = asyncio.StreamReader()
            rt, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(pr, "rb", 0))
            os.write(pw, b"piped")
            os.close(pw)
            assert await asyncio.wait_for(reader.read(), 30) == b"piped"
            rt.close()
            hr, hw = socket.socketpair()  # a host descriptor the worker holds is watched in the same epoll
            seen = loop.create_future()
            loop.add_reader(hr.fileno(), lambda: seen.done() or seen.set_result(hr.recv(1)))
            hw.send(b"h")
            assert await asyncio.wait_for(seen, 30) == b"h"
            loop.remove_reader(hr.fileno())
            hr.close()
            hw.close()
            try:
                await loop.sock_connect(socket.socket.__new__(socket.socket), ("127.0.0.1", 1))
                raise AssertionError("a host socket was accepted")
            except TypeError as e:
                assert "host socket" in str(e)

            # kernel objects on the loop: add_reader on a channel
            ukernel.cap_acquire("IPC")
            a, b = ukernel.Channel.pair()
            got = loop.create_future()
            loop.add_reader(b, lambda: got.set_result(b.recv()) if not got.done() else None)
            loop.call_later(0.05, a.send, b"via add_reader")
            assert await asyncio.wait_for(got, 20) == (b"via add_reader", [])
            loop.remove_reader(b)
            a.close()
            b.close()
            ukernel.info("SOCK API OK")
            return 0
        """})
    check(run_app(app_dir), "SOCK API OK", "0.0.0.0:8080")


def test_written_bytes_survive_close_and_many_conversations_at_once(app_dir):
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import asyncio
        import hashlib

        import ukernel

        BIG = hashlib.sha256(b"seed").digest() * 65536  # 2 MiB


        async def main():
            ukernel.cap_acquire("LOG")

            async def blurt(reader, writer):
                writer.write(BIG)  # no drain: close() must still deliver every byte, then EOF
                writer.close()

            server = await asyncio.start_server(blurt, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            for _ in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                data = await asyncio.wait_for(reader.read(), 30)
                assert data == BIG, len(data)
                writer.close()

            # sixteen echo conversations at once
            async def echo(reader, writer):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
                writer.close()

            echo_server = await asyncio.start_server(echo, "127.0.0.1", 0)
            eport = echo_server.sockets[0].getsockname()[1]

            async def talk(i):
                reader, writer = await asyncio.open_connection("127.0.0.1", eport)
                for k in range(50):
                    msg = b"%d-%d;" % (i, k)
                    writer.write(msg)
                    await writer.drain()
                    assert await reader.readexactly(len(msg)) == msg
                writer.close()
                await writer.wait_closed()

            sel = asyncio.get_running_loop()._selector
            before = sel.stats()
            await asyncio.wait_for(asyncio.gather(*(talk(i) for i in range(16))), 60)
            after = sel.stats()
            polls = after["polls"] - before["polls"]
            ukernel.info("%d io_poll requests parked for 800 messages" % polls)
            assert polls < 1600  # a parked poll serves every socket that is ready when it answers
            echo_server.close()
            server.close()
            ukernel.info("CLOSE FLUSH OK")
            return 0
        """})
    check(run_app(app_dir), "CLOSE FLUSH OK")


# A self-signed certificate for localhost / 127.0.0.1 (valid 100 years), made with
# openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/CN=localhost" -addext subjectAltName=...
_CERT = """-----BEGIN CERTIFICATE-----
MIIDJzCCAg+gAwIBAgIUHFSTTDA6J8fL91s/XDEV8MzMmiAwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNTA1Mjk0N1oYDzIxMjYx
MTAxMDUyOTQ3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQDSfMifhewa+al8KN3cTDWdMeiUKCEfXgelF6Ge6UiY
4xbVC/YzOXZDi0FlNBe5Q0aDs/HHHlSHNBmUHs0GOmdY8K99hnp/DOloYxPHQ3aG
Rh9GJ/xPHOrYUJLV81wZS9B5jPLOQO497LL1MFNMIiu5MirF5PZE+WhKNvq8xBzJ
Z8v0fQz5G/LT4iA57JCPE5Qz92Mg1F3DOxWOwTGamOIwuLY5DnKqdjc68RMrDM3t
EKJR3bmkF2GhtXciUtNb/nNi4qvPbvxEWIgepYw0kbDgwVQAWZ0eNDN52bQNvKWV
/pSfccKErQq2eIabtXyCN6sRsS7W5EPsXOz8WhFdiE4/AgMBAAGjbzBtMB0GA1Ud
DgQWBBR53FZy9RfcYi74XWE6DlSKdDG8gjAfBgNVHSMEGDAWgBR53FZy9RfcYi74
XWE6DlSKdDG8gjAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGCCWxvY2FsaG9z
dIcEfwAAATANBgkqhkiG9w0BAQsFAAOCAQEAT5hjvuGuoC/sOrvozZVphz5EbqGh
TrwesuhK4HGZvy0QrjY+eUc1HSOm7+dppLO+x3i3gBP33RqMs+qiNk+DTnKm/7ty
uJbEEA1w1AWauFyIOaBy91FUg1PW6qjesK9Qf0EZ1MHT+xWyBZXMzebS6haoM7g6
fLHO1uGkqKt1eSgDr+AurVUvTEM1padZC36Yn0/Xw9P+aJuhHX2h0MXB3+yw8lMY
V6LtMjKAsLzpjS0FIXikUreE2PcFrV2qZ4d6frQnD/sCAvip9nl2ITLkEU+PggSr
CbgFdeihpa0WqpvHDvZpoZiHBtx0gWilw8ET5g0h9tiDJwv3GIVorCTdXw==
-----END CERTIFICATE-----
"""
_KEY = """-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDSfMifhewa+al8
KN3cTDWdMeiUKCEfXgelF6Ge6UiY4xbVC/YzOXZDi0FlNBe5Q0aDs/HHHlSHNBmU
Hs0GOmdY8K99hnp/DOloYxPHQ3aGRh9GJ/xPHOrYUJLV81wZS9B5jPLOQO497LL1
MFNMIiu5MirF5PZE+WhKNvq8xBzJZ8v0fQz5G/LT4iA57JCPE5Qz92Mg1F3DOxWO
wTGamOIwuLY5DnKqdjc68RMrDM3tEKJR3bmkF2GhtXciUtNb/nNi4qvPbvxEWIge
pYw0kbDgwVQAWZ0eNDN52bQNvKWV/pSfccKErQq2eIabtXyCN6sRsS7W5EPsXOz8
WhFdiE4/AgMBAAECggEATqb0LK/VVwsdqth2dsA/dHrWxq3sGpV/U9Btwzy2tPJ+
cKOknuWE7J5XlGKPztl1uvb9jIMn4NG2ESQlRoOCZLijSst6cIk5mpkTJe1ul6QS
QZvlawaKNsR86dei/YzX3OOvQyT+IUOWZ4pkRdmq7uvxEbuJzqJHtxuuO+UoQJWL
Zi1oDqLIE+8ayET7BIkOzp5Sy61lqVLKVxQIQPz4PBTaTLnG8xRYOuFQLuoBfFYL
c2BDGgEF5So7doO8RR0KVPEI7HngY0O3xElXNvoAR9fiaOAYaAUZMpmcoIEF8u4I
Nk9nMX40BqXPwU7qwFFaX/8cYW5DDZBb6fScquDFMQKBgQD+ovlgJiHaKcpQ4NTq
RkLg+6apAca1g3v9T3J4lh2TOYZENJLn4D9MMzWniTsUPgX5srnSrH/CacKbEg+E
Lf7JUo584cIgzcbqTiASAURrYvWTOuzkn0tBiHqK5OPE21hrKvPYd4f0XZfGFoXH
nNIx/C4CCRppBIJ6BXbkPMMnRwKBgQDTnUuJUrDvH99k+l0ZysjzSJHGomQrFGPu
hy7d7eDlGcmPSCCj8WROANO20AMVWTNzfd6EJVNm/ym5cZBK2nsmHiJiKBJPxO2u
f6E3VdwDf70SyxB8J+tuSDEEEZdm2aelFkmRRPadg8Vj+6v1VyxOGEm6Z1X163dK
frTcKMCNSQKBgQDX2EwtLYWqiZwevMaeo9pTHd4jCwdmm8MBcVPmVdFSGAPxUuNo
PJVLQWlsz43N1dl41QBhTamqob29dyzB7b845osz3qaQ6f2AZaMXwA1APg1OtTdT
gJfpQAgoLmfIWep0RV+YEZKkGKXr2vGhyBQBHPPe89p4RMNZLcKfK8Z9RwKBgQCE
E4C5zOqx1OrRU5IYLwENFxYlK+XpHWjhz23pBjd/xoCO9S2qJVe9d7asO1gxUuNS
ChV/1OwhNNEN9Vth3MtQFy7OpMQJFZhjeTVeHDCd3nRb7nHzi9bdliFBsNkWUHLa
DvcLvEdQOJZSuRmynx4AABjERwrX2ocx77NiVe0YQQKBgFwEJSzblVAqH6beUUV9
kgTIN2R93KH61rEpZ/RkUbf/Aapog38PmeDbuvamaJyS/AtVmsAfTZEDbur1ILFY
xyIXsOn3nUl6av37TsoE6mbu7vvlVM/UFYUQngIKc6/IXUXzOZRXNUkfiz5DNhrL
TEYEejI/CplXE5HhvqzDMCJR
-----END PRIVATE KEY-----
"""


def test_tls_over_kernel_sockets(app_dir):
    write_app(app_dir, MANIFEST, {"src/cert.pem": _CERT, "src/key.pem": _KEY, "src/main.py": """
        import asyncio
        import ssl

        import ukernel


        async def main():
            ukernel.cap_acquire("LOG")
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.load_cert_chain("src/cert.pem", "src/key.pem")  # the bundle is readable
            client_ctx = ssl.create_default_context(cafile="src/cert.pem")

            async def handle(reader, writer):
                line = await reader.readline()
                writer.write(b"tls echo: " + line)
                await writer.drain()
                writer.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx)
            writer.write(b"hello\\n")
            await writer.drain()
            assert await reader.readline() == b"tls echo: hello\\n"
            version = writer.get_extra_info("ssl_object").version()
            writer.close()
            server.close()
            ukernel.info("TLS OK %s" % version)
            return 0
        """})
    check(run_app(app_dir), "TLS OK TLS")


def test_the_first_threadsafe_call_on_a_fresh_loop_wakes_it(app_dir):
    # The old loop made a kernel wake-up channel lazily, and a call_soon_threadsafe made while it was being made was
    # lost: to_thread, run_in_executor and asyncio.run's shutdown_default_executor hung. asyncio's own self-pipe is
    # now in the selector's epoll from the start; this keeps the scenarios that hung. GUARD only bounds a hang.
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import asyncio
        import threading

        import ukernel

        GUARD = 30


        def run_guarded(loop, coro, what):
            task = asyncio.ensure_future(coro, loop=loop)
            fired = []
            guard = loop.call_later(GUARD, lambda: (fired.append(what), task.cancel()))
            try:
                return loop.run_until_complete(task)
            except asyncio.CancelledError:
                raise AssertionError("%s: the loop was not woken (the call_soon_threadsafe was lost)" % what)
            finally:
                guard.cancel()


        def before_the_first_wait(i):
            # another thread's call_soon_threadsafe lands before the loop ever waited, while a kernel poll is parked
            loop = asyncio.new_event_loop()
            try:
                a, b = ukernel.Channel.pair()
                loop.add_reader(b.fileno(), lambda: None)  # a kernel object: an io_poll parks in the first wait
                woken = loop.create_future()
                t = threading.Thread(target=loop.call_soon_threadsafe, args=(woken.set_result, "woken"))
                t.start()
                t.join()
                assert run_guarded(loop, asyncio.shield(woken), "before the first wait %d" % i) == "woken"
                loop.remove_reader(b.fileno())
                a.close()
                b.close()
            finally:
                loop.close()


        def executors(i):
            loop = asyncio.new_event_loop()
            try:
                assert run_guarded(loop, asyncio.to_thread(lambda: i), "to_thread %d" % i) == i
                run_guarded(loop, loop.shutdown_default_executor(), "shutdown_default_executor %d" % i)
            finally:
                loop.close()


        def main():
            ukernel.cap_acquire("LOG", "IPC")
            for i in range(5):
                before_the_first_wait(i)
            for i in range(30):
                executors(i)
            ukernel.info("FIRST WAKE OK")
            return 0
        """})
    check(run_app(app_dir), "FIRST WAKE OK")


def test_connection_and_server_arguments_are_checked_before_any_connect_or_bind(app_dir):
    # Each bad call must fail as asyncio's own BaseEventLoop fails it (its checks come before any I/O, so the
    # reference is computed in the app by stepping BaseEventLoop's coroutine once), and before the kernel loop
    # connects: a server counts what it accepted.
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import asyncio
        from asyncio.base_events import BaseEventLoop

        import ukernel


        def reference(call):
            coro = call(BaseEventLoop())
            try:
                coro.send(None)
            except Exception as e:
                return type(e), str(e)
            finally:
                coro.close()
            raise AssertionError("BaseEventLoop accepted the call")


        async def outcome(call):
            try:
                result = await call(asyncio.get_running_loop())
            except Exception as e:
                return type(e), str(e)
            raise AssertionError("accepted: %r" % (result,))


        async def main():
            ukernel.cap_acquire("LOG")
            accepted = []
            legit = asyncio.get_running_loop().create_future()

            async def handle(reader, writer):
                accepted.append(1)
                line = await reader.readline()
                if line == b"legit\\n" and not legit.done():
                    legit.set_result(len(accepted))
                writer.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            P = asyncio.Protocol
            sock = ukernel.KernelSocket()
            cases = {
                "ssl without a host": lambda l: l.create_connection(P, "", port, ssl=True),
                "server_hostname without ssl": lambda l: l.create_connection(P, "127.0.0.1", port,
                                                                             server_hostname="x"),
                "handshake timeout without ssl": lambda l: l.create_connection(P, "127.0.0.1", port,
                                                                               ssl_handshake_timeout=1),
                "shutdown timeout without ssl": lambda l: l.create_connection(P, "127.0.0.1", port,
                                                                              ssl_shutdown_timeout=1),
                "host/port and sock": lambda l: l.create_connection(P, "127.0.0.1", port, sock=sock),
                "nothing to connect": lambda l: l.create_connection(P),
                "server ssl=True": lambda l: l.create_server(P, "127.0.0.1", 0, ssl=True),
                "server handshake timeout": lambda l: l.create_server(P, "127.0.0.1", 0, ssl_handshake_timeout=1),
                "server shutdown timeout": lambda l: l.create_server(P, "127.0.0.1", 0, ssl_shutdown_timeout=1),
                "server host/port and sock": lambda l: l.create_server(P, "127.0.0.1", 0, sock=sock),
                "server nothing": lambda l: l.create_server(P),
            }
            wrong = {}
            for name, call in cases.items():
                want, got = reference(call), await outcome(call)
                if want != got:
                    wrong[name] = (want, got)
            sock.close()
            assert not wrong, wrong
            # Nothing was connected: the first connection the server accepts is this one.
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"legit\\n")
            assert await asyncio.wait_for(legit, 30) == 1, "the bad calls connected %d times" % (len(accepted) - 1)
            w.close()
            server.close()
            ukernel.info("ARGS OK")
            return 0
        """})
    check(run_app(app_dir), "ARGS OK")


def test_empty_resolution_is_an_error_and_asyncio_names_give_the_kernel_loop(app_dir):
    # An empty or None getaddrinfo answer is OSError (as asyncio says it), not IndexError, TypeError or a server
    # listening on nothing. In a worker, an app that resets the policy or names asyncio.SelectorEventLoop gets the
    # kernel's loop (a host loop would listen on nothing: the worker has no network), and a host selector is
    # refused saying what to use.
    write_app(app_dir, MANIFEST, {"src/main.py": """
        import asyncio
        import selectors
        import socket
        import threading

        import ukernel


        async def expect_oserror(coro, message):
            try:
                result = await coro
            except OSError as e:
                assert str(e) == message, (str(e), message)
                return
            raise AssertionError("no OSError, got %r" % (result,))


        async def empty_answers():
            loop = asyncio.get_running_loop()
            try:  # a service name the worker cannot look up: a resolver's error saying what to give instead
                await loop.create_connection(asyncio.Protocol, "127.0.0.1", "no-such-service-ukernel")
            except socket.gaierror as e:
                assert e.errno == socket.EAI_SERVICE and "give the port number" in str(e), repr(e)
            else:
                raise AssertionError("an unknown service name was accepted")
            for answer in ([], None):
                async def getaddrinfo(*args, **kwargs):
                    return answer

                loop.getaddrinfo = getaddrinfo
                try:
                    P = asyncio.Protocol
                    await expect_oserror(loop.create_connection(P, "example.test", 80),
                                         "getaddrinfo() returned empty list")
                    await expect_oserror(loop.create_server(P, "127.0.0.1", 0),
                                         "getaddrinfo('127.0.0.1') returned empty list")
                    await expect_oserror(loop.create_server(P, ["127.0.0.1", "0.0.0.0"], 0),
                                         "getaddrinfo('127.0.0.1') returned empty list")
                finally:
                    del loop.getaddrinfo
            # local_addr resolving to nothing
            real = loop.getaddrinfo

            async def no_local(host, *args, **kwargs):
                return [] if host == "local.test" else await real(host, *args, **kwargs)

            loop.getaddrinfo = no_local
            try:
                await expect_oserror(loop.create_connection(asyncio.Protocol, "127.0.0.1", 80,
                                                            local_addr=("local.test", 0)),
                                     "getaddrinfo() returned empty list")
            finally:
                del loop.getaddrinfo


        async def echo_round_trip():
            loop = asyncio.get_running_loop()

            async def handle(reader, writer):
                writer.write(await reader.readline())
                await writer.drain()
                writer.close()

            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            assert server.sockets, "the server listens on nothing"
            port = server.sockets[0].getsockname()[1]
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"ping\\n")
            line = await asyncio.wait_for(r.readline(), 30)
            w.close()
            server.close()
            await server.wait_closed()
            return type(loop).__name__, isinstance(loop, asyncio.SelectorEventLoop), line


        def in_a_thread(fn):
            out = []
            t = threading.Thread(target=lambda: out.append(fn()))
            t.start()
            t.join()
            assert out, "the thread failed"
            return out[0]


        def main():
            ukernel.cap_acquire("LOG", "IPC")
            asyncio.run(empty_answers())

            asyncio.set_event_loop_policy(None)  # back to "asyncio's default policy"
            name, selector_loop, line = asyncio.run(echo_round_trip())
            assert name == "KernelEventLoop" and selector_loop and line == b"ping\\n", (name, selector_loop, line)

            def explicit():  # an explicit asyncio.SelectorEventLoop() in a worker thread
                loop = asyncio.SelectorEventLoop()
                try:
                    return loop.run_until_complete(echo_round_trip())
                finally:
                    loop.close()

            name, selector_loop, line = in_a_thread(explicit)
            assert name == "WorkerSelectorEventLoop" and selector_loop and line == b"ping\\n", (name, line)
            with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
                assert runner.run(echo_round_trip())[2] == b"ping\\n"

            try:
                asyncio.SelectorEventLoop(selectors.SelectSelector())
            except ValueError as e:
                assert "asyncio.new_event_loop()" in str(e), str(e)
            else:
                raise AssertionError("a host selector was accepted")
            ukernel.info("NAMES OK")
            return 0
        """})
    check(run_app(app_dir), "NAMES OK")
