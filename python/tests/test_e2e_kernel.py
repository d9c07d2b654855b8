"""End to end through the real kernel: each test writes a small app (ukernel.toml, src/*.py), runs it with
``<repo>/ukernel run <app> -q`` and asserts on the exit status and ``logs/console.log``.

The apps check the ABI from inside (assert, then report with a console line); a failed assertion is a traceback
in the console log and exit status 1, which the test shows. The first run may build the CLI (Maven), so the
module probes the kernel once, with a generous timeout, before any test; the probe also finds which calls the
kernel answers with ``ERR_UNSUPPORTED`` (families still landing), and those tests are skipped with that reason.
``UKERNEL_E2E_LAUNCHER`` names another launcher to test (e.g. an installed ``ukernel``).
"""

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from ukernel import _abi

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = os.environ.get("UKERNEL_E2E_LAUNCHER") or str(REPO / "ukernel")
FIRST_RUN_TIMEOUT = 900  # the launcher may build the CLI with Maven and train its start-up cache first
RUN_TIMEOUT = 120


class Run:
    def __init__(self, app, proc):
        self.app = app
        self.status = proc.returncode
        self.stderr = proc.stderr
        log = app / "logs" / "console.log"
        self.log = log.read_text("utf-8", "replace") if log.exists() else ""

    def lines(self, task=None):
        """Console lines, optionally only those of ``task`` (``main#1``, ``consumer``)."""
        out = []
        for line in self.log.splitlines():
            parts = line.split("] ", 1)
            who = parts[1].split(" ", 1)[0] if len(parts) == 2 else ""
            if task is None or who == task or who.split("#")[0] == task:
                out.append(line)
        return out

    def explain(self):
        return "exit status %s\n--- console.log ---\n%s\n--- stderr ---\n%s" % (self.status, self.log, self.stderr)


def write_app(root, manifest, files, dirs=()):
    root = Path(root)
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "ukernel.toml").write_text(textwrap.dedent(manifest).lstrip())
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    return root


def run_app(app, timeout=RUN_TIMEOUT, *extra):
    proc = subprocess.run([LAUNCHER, "run", str(app), "-q", *extra], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, cwd=str(app))
    return Run(Path(app), proc)


# -- the probe: one run before the tests ---------------------------------------------------------------------------

_PROBE_MAIN = """
import json

import ukernel
from ukernel import _abi

SKIP = {"hello", "task_exit", "cap_drop"}
DUMMY = {_abi.TAG_I64: -1, _abi.TAG_BYTES: b"", _abi.TAG_I64S: []}


def main():
    c = ukernel.client()
    c.cap_acquire(63)  # the capability check comes before the "implemented" check (docs/kernel-abi.md 2.5)
    unsupported = []
    for name, (number, cap, argtags, restags, reserved) in _abi.CALLS.items():
        if name in SKIP:
            continue
        args = [DUMMY[t] for t in argtags]
        if name == "io_poll":
            args[1] = 0
        try:
            c.call(name, *args)
        except ukernel.UnsupportedError:
            unsupported.append(name)
        except Exception:
            pass
    print("PROBE " + json.dumps({"unsupported": unsupported}))
"""


class Probe:
    def __init__(self):
        self.error = None
        self.unsupported = set()
        self.no_jdk = False
        tmp = Path(tempfile.mkdtemp(prefix="ukprobe"))
        try:
            app = write_app(tmp / "probe", """
                name = "probe"
                entry = "src/main.py"
                [caps]
                grant = ["LOG", "TIME", "TASK", "IPC", "NET", "IO"]
                """, {"src/main.py": _PROBE_MAIN})
            try:
                run = run_app(app, FIRST_RUN_TIMEOUT)
            except FileNotFoundError as e:
                self.error = "cannot start %s: %s" % (LAUNCHER, e)
                return
            except subprocess.TimeoutExpired:
                self.error = "%s run did not finish within %d s" % (LAUNCHER, FIRST_RUN_TIMEOUT)
                return
            self.no_jdk = "no JDK 25" in run.stderr
            found = [line.split("PROBE ", 1)[1] for line in run.lines("main") if "PROBE " in line]
            if run.status != 0 or not found:
                self.error = "the probe app did not run:\n" + run.explain()
                return
            result = json.loads(found[-1])
            self.unsupported = set(result["unsupported"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def pending(self, first, last):
        """Why the calls numbered ``first`` to ``last`` cannot be tested yet, or ``None``."""
        if self.error:
            return None  # the tests run, and fail with the error
        calls = sorted((n for n in self.unsupported if first <= _abi.CALLS[n][0] <= last),
                       key=lambda n: _abi.CALLS[n][0])
        if not calls:
            return None
        return "the kernel answers ERR_UNSUPPORTED to %s (family not landed yet)" % ", ".join(calls)


PROBE = Probe()
if PROBE.error and PROBE.no_jdk:
    pytest.skip("no JDK 25 to run the kernel: " + PROBE.error, allow_module_level=True)

NET_PENDING = PROBE.pending(_abi.CALL_NET_SOCKET, _abi.CALL_NET_ERROR)
IO_PENDING = PROBE.pending(_abi.CALL_IO_OPEN, _abi.CALL_IO_CLOSE)
needs_net = pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")
needs_io = pytest.mark.skipif(IO_PENDING is not None, reason=IO_PENDING or "")


@pytest.fixture
def app_dir(tmp_path):
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    return tmp_path / "app"


def check(run, *needles):
    assert run.status == 0, run.explain()
    for needle in needles:
        assert needle in run.log, "%r not in the console log\n%s" % (needle, run.explain())


# -- IPC and tasks ---------------------------------------------------------------------------------------------------

def test_ipc_round_trip_with_a_moved_endpoint(app_dir):
    write_app(app_dir, """
        name = "ipc-round-trip"
        entry = "src/main.py"
        [caps]
        grant = ["LOG", "IPC"]
        """, {"src/main.py": """
        import ukernel
        from ukernel import Channel


        def main():
            ukernel.cap_acquire("LOG", "IPC")
            a, b = Channel.pair()
            c, d = Channel.pair()
            a.send(b"here is an endpoint", [d])  # d moves into the message
            assert d.closed
            data, handles = b.recv()
            assert data == b"here is an endpoint" and len(handles) == 1, (data, handles)
            d2 = Channel(handles[0])
            c.send(b"through the moved end")
            assert d2.recv() == (b"through the moved end", [])
            d2.send(b"and back", [])
            assert c.recv() == (b"and back", [])
            try:
                b.recv()
                raise AssertionError("recv on an empty channel must raise")
            except BlockingIOError as e:
                assert isinstance(e, ukernel.WouldBlockError)
            assert ukernel.poll([(a.handle, ukernel.EV_WRITABLE)], 0) == [(a.handle, ukernel.EV_WRITABLE)]
            a.close()
            events = b.wait(timeout=5)
            assert events & ukernel.EV_HANGUP, events
            try:
                b.recv()
                raise AssertionError("recv after the peer closed must raise ClosedError")
            except ukernel.ClosedError:
                pass
            for ch in (b, c, d2):
                ch.close()
            ukernel.info("ipc round trip ok: moved endpoint %d arrived as %d" % (d2.handle or 0, handles[0]))
            return 0
        """})
    run = run_app(app_dir)
    check(run, "ipc round trip ok")


def test_two_task_pipeline(app_dir):
    n = 5
    write_app(app_dir, """
        name = "pipeline"
        entry = "src/main.py"
        [caps]
        grant = ["LOG", "TASK", "IPC"]

        [[task]]
        name = "consumer"
        entry = "src/consumer.py"
        caps = ["LOG", "IPC"]
        start = "spawn"
        """, {"src/main.py": """
        import ukernel
        from ukernel import Channel, Task

        N = %d


        def main():
            ukernel.cap_acquire("LOG", "TASK", "IPC")
            mine, theirs = Channel.pair()
            task = Task.spawn("consumer", "LOG|IPC", [theirs])
            assert theirs.closed
            for i in range(N):
                mine.send(b"message %%d" %% i)
            mine.close()
            ready = ukernel.poll([(task.handle, ukernel.EV_READABLE)], timeout=60)
            assert ready == [(task.handle, ukernel.EV_READABLE)], ready
            state, code = task.status()
            ukernel.info("consumer ended: state %%d, exit code %%d" %% (state, code))
            assert state == ukernel.TASK_EXITED and code == N, (state, code)
            task.close()
            return 0
        """ % n, "src/consumer.py": """
        import os

        import ukernel
        from ukernel import Channel


        def main():
            ukernel.cap_acquire("LOG", "IPC")
            channel = Channel(int(os.environ["UKERNEL_HANDLES"].split(",")[0]))  # the first handle passed by task_spawn
            count = 0
            while True:
                try:
                    data, handles = channel.recv()
                except ukernel.WouldBlockError:
                    channel.wait(timeout=60)
                    continue
                except ukernel.ClosedError:
                    break
                assert data == b"message %d" % count and handles == [], (data, handles)
                count += 1
            ukernel.info("consumer received %d messages" % count)
            return count
        """})
    run = run_app(app_dir)
    check(run, "consumer received %d messages" % n, "consumer ended: state 1, exit code %d" % n)
    assert any("consumer received" in line for line in run.lines("consumer")), run.explain()


def test_poll_timeout_on_an_empty_channel(app_dir):
    write_app(app_dir, """
        name = "poll-timeout"
        entry = "src/main.py"
        [caps]
        grant = ["LOG", "TIME", "IPC"]
        """, {"src/main.py": """
        import ukernel


        def main():
            ukernel.cap_acquire("LOG", "TIME", "IPC")
            a, b = ukernel.ipc_channel_create()
            assert ukernel.io_poll([(b, ukernel.EV_READABLE)], 0) == []
            start = ukernel.time_monotonic_ns()
            ready = ukernel.io_poll([(b, ukernel.EV_READABLE)], 200_000_000)
            waited = ukernel.time_monotonic_ns() - start
            assert ready == [], ready
            assert waited >= 200_000_000, waited  # it waited (at least) the timeout
            assert ukernel.poll([], 0.05) == []  # no pairs: a sleep
            ukernel.ipc_send(a, b"wake")
            assert ukernel.io_poll([(b, ukernel.EV_READABLE)]) == [(b, ukernel.EV_READABLE)]
            bad = 1000
            assert ukernel.io_poll([(bad, ukernel.EV_READABLE)], 0) == [(bad, ukernel.EV_ERROR)]
            ukernel.info("poll timeout ok after %.3f s" % (waited / 1e9))
            return 0
        """})
    run = run_app(app_dir)
    check(run, "poll timeout ok")


def test_handle_quota(app_dir):
    write_app(app_dir, """
        name = "quota"
        entry = "src/main.py"
        [caps]
        grant = ["LOG", "IPC"]
        [limits]
        handles = 16
        """, {"src/main.py": """
        import ukernel


        def main():
            ukernel.cap_acquire("LOG", "IPC")
            pairs = []
            try:
                while True:
                    pairs.append(ukernel.ipc_channel_create())
                    assert len(pairs) <= 8, "more than 16 handles"
            except ukernel.LimitError as e:
                ukernel.info("LimitError after %d channels: %s" % (len(pairs), e))
            assert len(pairs) == 8
            a, b = pairs.pop()
            ukernel.ipc_close(a)
            try:
                ukernel.ipc_channel_create()  # one free handle: a channel needs two, and nothing is created
                raise AssertionError("a channel was created with one free handle")
            except ukernel.LimitError:
                pass
            ukernel.handle_close(b)
            pairs.append(ukernel.ipc_channel_create())
            assert not set(pairs[-1]) & {a, b}, (pairs[-1], a, b)  # fresh random numbers, closed ones not reused
            return 0
        """})
    run = run_app(app_dir)
    check(run, "LimitError after 8 channels")


@needs_io
def test_a_batch_of_large_replies_then_large_requests_completes_under_reply_backpressure(app_dir):
    # 24 MiB of replies come before 16 MiB more requests in one write (more than the host's socket buffers take):
    # the kernel stops reading this connection while its replies wait (docs/limits.md), so a client that only
    # wrote would wait forever; it reads meanwhile.
    write_app(app_dir, """
        name = "pressure"
        entry = "src/main.py"
        [caps]
        grant = ["LOG", "IPC", "IO"]
        [caps.io]
        data = { path = "data", mode = "ro" }
        """, {"src/main.py": """
        import ukernel
        from ukernel._calls import result, spec


        def main():
            ukernel.cap_acquire("LOG", "IPC", "IO")
            f = ukernel.io_open("data", "blob")
            a, b = ukernel.ipc_channel_create()
            c = ukernel.client()
            calls = []
            for _ in range(24):
                calls += [(spec("io_seek"), (f, 0, 0)), (spec("io_read"), (f, 1 << 20))]
            calls += [(spec("ipc_send"), (a, bytes(65536), []))] * 256  # 16 MiB of requests after them
            seqs = c.submit(calls)
            replies = [c.collect(q) for q in seqs]
            got = sum(len(result(s, r, a)) for (s, a), r in zip(calls, replies) if s.name == "io_read")
            assert got > 24_000_000, got  # io_read clamps n to what one reply frame holds (1 048 563)
            ukernel.info("batch done: %d replies" % len(replies))
            return 0
        """, "data/blob": "z" * (1 << 20)})
    run = run_app(app_dir)
    check(run, "batch done: 304 replies")


def test_handles_are_closed_when_a_task_exits(app_dir):
    write_app(app_dir, """
        name = "exit-closes"
        entry = "src/main.py"
        [caps]
        grant = ["LOG", "TASK", "IPC"]

        [[task]]
        name = "holder"
        entry = "src/holder.py"
        caps = ["LOG", "IPC"]
        """, {"src/main.py": """
        import ukernel


        def main():
            ukernel.cap_acquire("LOG", "TASK", "IPC")
            a, b = ukernel.ipc_channel_create()
            c, d = ukernel.ipc_channel_create()
            task = ukernel.task_spawn("holder", ukernel.Cap.LOG | ukernel.Cap.IPC, [b, d])
            assert ukernel.io_poll([(a, 0), (c, 0)], 0) == []  # the peers are alive
            ready = ukernel.io_poll([(task, ukernel.EV_READABLE)], 60_000_000_000)
            assert ready == [(task, ukernel.EV_READABLE)], ready
            assert ukernel.task_status(task) == (ukernel.TASK_EXITED, 7)
            ready = ukernel.io_poll([(a, ukernel.EV_READABLE), (c, 0)], 10_000_000_000)
            assert ready == [(a, ukernel.EV_HANGUP), (c, ukernel.EV_HANGUP)], ready
            try:
                ukernel.ipc_send(a, b"anyone?")
                raise AssertionError("send to a closed peer must raise ClosedError")
            except ukernel.ClosedError:
                pass
            ukernel.info("peers hung up after the holder exited")
            return 0
        """, "src/holder.py": """
        import os

        import ukernel


        def main():
            ukernel.cap_acquire("LOG", "IPC")
            one, two = (int(h) for h in os.environ["UKERNEL_HANDLES"].split(","))  # numbered by the kernel
            ready = ukernel.io_poll([(one, ukernel.EV_WRITABLE), (two, ukernel.EV_WRITABLE)], 0)
            assert ready == [(one, ukernel.EV_WRITABLE), (two, ukernel.EV_WRITABLE)], ready
            ukernel.info("holder got its two endpoints as handles %d and %d" % (one, two))
            return 7  # exits without closing them
        """})
    run = run_app(app_dir)
    check(run, "holder got its two endpoints", "peers hung up after the holder exited")


# -- NET -------------------------------------------------------------------------------------------------------------

@needs_net
def test_tcp_client_and_server_on_loopback(app_dir):
    write_app(app_dir, """
        name = "tcp"
        entry = "src/main.py"
        [caps]
        grant = ["LOG", "NET"]
        [caps.net]
        bind = ["127.0.0.1:0"]
        connect = ["127.0.0.1:*"]
        """, {"src/main.py": """
        import errno

        import ukernel

        W, R = ukernel.EV_WRITABLE, ukernel.EV_READABLE


        def wait(handle, events):
            ready = ukernel.poll([(handle, events)], timeout=30)
            assert ready and ready[0][1] & events, ready
            return ready[0][1]


        def send_all(sock, data):
            while data:
                try:
                    data = data[ukernel.net_send(sock, data):]
                except BlockingIOError:
                    wait(sock, W)


        def recv_until_eof(sock):
            chunks = []
            while True:
                try:
                    chunk = ukernel.net_recv(sock, 65536)
                except BlockingIOError:
                    wait(sock, R)
                    continue
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)


        def main():
            ukernel.cap_acquire("LOG", "NET")
            server = ukernel.net_socket()
            ukernel.net_bind(server, "127.0.0.1", 0)
            ukernel.net_listen(server, 8)
            host, port = ukernel.net_addr(server)
            assert host == "127.0.0.1" and port > 0, (host, port)
            client = ukernel.net_socket(ukernel.AF_INET, ukernel.SOCK_STREAM)
            try:
                ukernel.net_connect(client, host, port)
            except BlockingIOError as e:
                assert e.errno == errno.EINPROGRESS, e
                wait(client, W)
            assert ukernel.net_error(client) == 0
            wait(server, R)
            conn, peer_host, peer_port = ukernel.net_accept(server)
            assert (peer_host, peer_port) == ukernel.net_addr(client, ukernel.NET_ADDR_LOCAL)
            assert ukernel.net_addr(client, ukernel.NET_ADDR_PEER) == (host, port)
            request = b"ping " * 1000
            send_all(client, request)
            ukernel.net_shutdown(client, ukernel.NET_SHUT_WR)
            got = recv_until_eof(conn)
            assert got == request, len(got)
            send_all(conn, b"pong:" + str(len(got)).encode())
            ukernel.net_close(conn)  # queued data is still sent, then EOF
            reply = recv_until_eof(client)
            assert reply == b"pong:5000", reply
            ukernel.net_close(client)
            ukernel.net_close(server)
            ukernel.info("tcp ok on port %d: %s" % (port, reply.decode()))
            return 0
        """})
    run = run_app(app_dir)
    check(run, "tcp ok on port", "pong:5000")


@needs_net
def test_connect_outside_the_allow_list_is_denied_and_names_the_address(app_dir):
    write_app(app_dir, """
        name = "net-denied"
        entry = "src/main.py"
        [caps]
        grant = ["LOG", "NET"]
        [caps.net]
        connect = ["127.0.0.1:8080"]
        """, {"src/main.py": """
        import ukernel


        def main():
            ukernel.cap_acquire("LOG", "NET")
            sock = ukernel.net_socket()
            try:
                ukernel.net_connect(sock, "127.0.0.1", 9)
            except PermissionError as e:
                ukernel.info("denied: %s" % e)
                assert isinstance(e, ukernel.DeniedError)
                assert "127.0.0.1:9" in str(e) and "[caps.net]" in str(e), e
            else:
                raise AssertionError("connect to 127.0.0.1:9 was allowed")
            try:
                ukernel.net_bind(sock, "127.0.0.1", 0)
                raise AssertionError("bind with no net.bind rule was allowed")
            except PermissionError as e:
                assert "127.0.0.1:0" in str(e), e
            return 0
        """})
    run = run_app(app_dir)
    check(run, 'denied: [Errno 13] net_connect 127.0.0.1:9: denied: no net.connect rule allows 127.0.0.1:9',
          'connect = ["127.0.0.1:9"]')
    kernel_lines = [line for line in run.lines() if "127.0.0.1:9" in line and " OUT " not in line
                    and "denied: [Errno" not in line]
    assert kernel_lines, "the kernel wrote no console line naming the refused address\n" + run.explain()


# -- IO --------------------------------------------------------------------------------------------------------------

_IO_MANIFEST = """
    name = "files"
    entry = "src/main.py"
    [caps]
    grant = ["LOG", "IO"]
    [caps.io]
    data = { path = "data", mode = "rw" }
    conf = { path = "conf", mode = "ro" }
    """


@needs_io
def test_files_write_then_read_back(app_dir):
    write_app(app_dir, _IO_MANIFEST, {"conf/settings.txt": "colour = blue\n", "src/main.py": """
        import ukernel
        from ukernel import OpenFlag


        def main():
            ukernel.cap_acquire("LOG", "IO")
            f = ukernel.io_open("data", "notes/out.txt", OpenFlag.WRITE | OpenFlag.CREATE | OpenFlag.TRUNCATE)
            assert ukernel.io_write(f, b"hello, ") == 7
            assert ukernel.io_write(f, "files\\n") == 6
            size, mtime_ns, kind = ukernel.io_stat(f)
            assert (size, kind) == (13, ukernel.STAT_FILE) and mtime_ns > 0, (size, mtime_ns, kind)
            ukernel.io_close(f)
            f = ukernel.io_open("data", "notes/out.txt", OpenFlag.READ)
            assert ukernel.io_read(f, 100) == b"hello, files\\n"
            assert ukernel.io_read(f, 100) == b""  # end of file
            assert ukernel.io_seek(f, 7) == 7
            assert ukernel.io_read(f, 5) == b"files"
            assert ukernel.io_seek(f, -1, ukernel.SEEK_END) == 12
            ukernel.io_close(f)
            f = ukernel.io_open("data", "notes/out.txt", OpenFlag.WRITE | OpenFlag.APPEND)
            ukernel.io_write(f, b"more\\n")
            ukernel.io_close(f)
            d = ukernel.io_open("data", ".", OpenFlag.READ)
            assert ukernel.io_stat(d)[2] == ukernel.STAT_DIRECTORY
            ukernel.io_close(d)
            f = ukernel.io_open("conf", "settings.txt")
            assert ukernel.io_read(f, 100) == b"colour = blue\\n"
            ukernel.io_close(f)
            try:
                ukernel.io_open("data", "missing.txt")
                raise AssertionError("opening a missing file must raise")
            except FileNotFoundError:
                pass
            ukernel.info("files ok")
            return 0
        """}, dirs=["data/notes"])
    run = run_app(app_dir)
    check(run, "files ok")
    assert (app_dir / "data" / "notes" / "out.txt").read_bytes() == b"hello, files\nmore\n"


@needs_io
def test_files_cannot_escape_a_preopen(app_dir):
    write_app(app_dir, _IO_MANIFEST, {"secret.txt": "top secret\n", "data/sub/file.txt": "inside\n",
                                      "conf/settings.txt": "x\n", "src/main.py": """
        import ukernel
        from ukernel import OpenFlag

        REFUSED = ["../secret.txt", "sub/../../secret.txt", "sub/../file.txt", "/etc/hostname", "up", "abs"]


        def main():
            ukernel.cap_acquire("LOG", "IO")
            for path in REFUSED:
                try:
                    ukernel.io_close(ukernel.io_open("data", path))
                except PermissionError as e:
                    ukernel.info("refused %s: %s" % (path, e))
                else:
                    raise AssertionError("io_open(data, %r) escaped the preopen" % path)
            f = ukernel.io_open("data", "inner")  # a relative link that stays inside is followed
            assert ukernel.io_read(f, 100) == b"inside\\n"
            ukernel.io_close(f)
            for flags in (OpenFlag.WRITE, OpenFlag.READ | OpenFlag.WRITE, OpenFlag.WRITE | OpenFlag.CREATE):
                try:
                    ukernel.io_open("conf", "settings.txt", flags)
                    raise AssertionError("a write open in the ro preopen was allowed")
                except PermissionError as e:
                    assert 'read-only (mode = "ro"' in str(e), e
            ukernel.io_close(ukernel.io_open("conf", "settings.txt", OpenFlag.READ))
            ukernel.info("escapes refused")
            return 0
        """}, dirs=["data", "conf"])
    data = app_dir / "data"
    os.symlink("../secret.txt", data / "up")  # relative, but leads outside
    os.symlink(str(app_dir / "secret.txt"), data / "abs")  # absolute
    os.symlink("sub/file.txt", data / "inner")  # stays inside
    run = run_app(app_dir)
    check(run, "escapes refused", "refused ../secret.txt", "refused /etc/hostname", "refused up", "refused abs")
    assert "top secret" not in run.log
    assert (app_dir / "conf" / "settings.txt").read_text() == "x\n"
