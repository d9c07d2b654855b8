"""Code that makes its own sockets, through a real kernel (issue 11 item 5; docs/confinement.md, "Sockets the worker
makes"): ``urllib.request`` and ``http.client`` in a thread, a synchronous Redis client (Debian's ``python3-redis``)
against a real ``redis-server``, Debian's ``python3-psycopg2`` (libpq, C) against a real PostgreSQL, and a plain
``bind``/``listen``/``accept`` server, all unmodified and confined; the kernel decides each ``connect``, ``bind``,
``listen`` and ``accept`` (seccomp user notification) against ``[caps.net]``; and anyio's TCP listener (Debian's
``python3-anyio``), which makes its listening socket itself and hands the accepted ones to asyncio. Outside the allow-list the same call
is refused (``EPERM``) and the host's listener sees nothing.

The servers are the test's own, on loopback ports the host chooses (port 0); Redis and PostgreSQL are skipped with
the reason when their Debian packages are not installed (``.ci/run`` installs them).
"""

import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "adversarial"))
from _harness import host_can_confine, make_app, run_app  # noqa: E402

sys.path.pop(0)

needs_notify = pytest.mark.skipif(host_can_confine() is not None or os.geteuid() != 0,
                                  reason="the kernel supervises a worker's own sockets when it is root on a host that "
                                         "confines (%s)" % (host_can_confine() or "not root"))

MANIFEST = """\
name = "own-sockets"
entry = "src/main.py"

[caps]
grant = ["LOG", "NET"]

[caps.net]
connect = [{connect}]
bind = [{bind}]
"""


def manifest(connect=(), bind=()):
    return MANIFEST.format(connect=", ".join('"%s"' % c for c in connect), bind=", ".join('"%s"' % b for b in bind))


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from the host " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def other_listener():
    """A loopback listener no rule names: what a refused connect would have reached."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    s.setblocking(False)
    yield s
    s.close()


def pending(listener):
    return bool(select.select([listener], [], [], 0)[0])


HTTP_APP = """\
import errno, http.client, os, socket, threading, urllib.request

PORT, OTHER = int(os.environ["PORT"]), int(os.environ["OTHER"])


def in_thread(fn):
    out = []
    def run():
        try:
            out.append(fn())
        except Exception as e:
            out.append("%s: %s" % (type(e).__name__, e))
    t = threading.Thread(target=run)
    t.start()
    t.join()
    return out[0]


def urllib_blocking():
    return urllib.request.urlopen("http://127.0.0.1:%d/urllib" % PORT).read().decode()


def http_client_timeout():
    c = http.client.HTTPConnection("localhost", PORT, timeout=30)  # a timeout: a non-blocking socket inside
    c.request("GET", "/http.client")
    return c.getresponse().read().decode()


def refused():
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", OTHER))
        return "connected"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def main():
    print("urllib:", in_thread(urllib_blocking))
    print("http.client:", in_thread(http_client_timeout))
    print("other port:", in_thread(refused))
"""


@needs_notify
def test_urllib_and_http_client_in_a_thread_reach_an_allowed_server_and_nothing_else(tmp_path, http_server,
                                                                                   other_listener):
    app = make_app(tmp_path / "app", HTTP_APP, manifest(connect=["127.0.0.1:%d" % http_server]))
    run = run_app(app, env=["PORT=%d" % http_server, "OTHER=%d" % other_listener.getsockname()[1]])
    texts = run.texts("main")
    assert run.status == 0, run.explain()
    assert "urllib: hello from the host /urllib" in texts, run.explain()
    assert "http.client: hello from the host /http.client" in texts, run.explain()  # localhost: the worker's hosts
    assert "other port: EPERM" in texts, run.explain()
    assert not pending(other_listener), "the refused connect reached the host's listener"
    denied = [t for t in run.texts() if t.startswith("connect(2) 127.0.0.1:%d denied" % other_listener.getsockname()[1])]
    assert denied and "add \"localhost:%d\" to [caps.net] connect" % other_listener.getsockname()[1] in denied[0], \
        run.explain()
    performed = [t for t in run.texts() if t.startswith("connect(2): ") and "127.0.0.1:%d" % http_server in t]
    assert len(performed) == 2, run.explain()


@needs_notify
def test_without_the_sandbox_the_same_connect_reaches_the_other_port(tmp_path, http_server, other_listener):
    app = make_app(tmp_path / "app", HTTP_APP, manifest(connect=["127.0.0.1:%d" % http_server]))
    run = run_app(app, "--insecure-no-sandbox",
                  env=["PORT=%d" % http_server, "OTHER=%d" % other_listener.getsockname()[1]])
    assert run.status == 0, run.explain()
    assert "other port: connected" in run.texts("main"), run.explain()
    assert pending(other_listener)


NO_NET_APP = """\
import errno, socket

def main():
    try:
        socket.socket().close()
        print("socket: made")
    except OSError as e:
        print("socket:", errno.errorcode.get(e.errno, e.errno))
"""

NO_NET_MANIFEST = """\
name = "no-net"
entry = "src/main.py"

[caps]
grant = ["LOG"]
"""


@needs_notify
def test_a_task_without_net_cannot_even_make_a_socket(tmp_path):
    """The supervisor is engaged only for tasks whose policy can ever hold NET: for the others the filter keeps
    refusing socket() itself, so no socket (nor a notification for the kernel to read) exists."""
    confined = run_app(make_app(tmp_path / "a", NO_NET_APP, NO_NET_MANIFEST))
    assert confined.status == 0, confined.explain()
    assert "socket: EPERM" in confined.texts("main"), confined.explain()
    assert "seccomp user notification" not in " ".join(confined.texts()), confined.explain()
    insecure = run_app(make_app(tmp_path / "b", NO_NET_APP, NO_NET_MANIFEST), "--insecure-no-sandbox")
    assert insecure.status == 0, insecure.explain()
    assert "socket: made" in insecure.texts("main"), insecure.explain()


SERVER_APP = """\
import os, socket, threading

def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    got = []
    def serve():
        c, peer = srv.accept()
        got.append((c.recv(100), peer[0]))
        c.sendall(b"pong")
        c.close()
    t = threading.Thread(target=serve)
    t.start()
    cl = socket.create_connection(("127.0.0.1", port))
    cl.sendall(b"ping")
    print("client got:", cl.recv(100).decode())
    t.join()
    print("server got:", got[0][0].decode(), "from", got[0][1])
    nb = socket.socket()
    try:
        nb.bind(("127.0.0.2", 0))
        print("bind 127.0.0.2: ok")
    except OSError as e:
        print("bind 127.0.0.2:", e.errno)
"""


@needs_notify
def test_a_plain_bind_listen_accept_server_within_net_bind(tmp_path):
    app = make_app(tmp_path / "app", SERVER_APP, manifest(connect=["127.0.0.1:*"], bind=["127.0.0.1:0"]))
    run = run_app(app)
    texts = run.texts("main")
    assert run.status == 0, run.explain()
    assert "client got: pong" in texts, run.explain()
    assert "server got: ping from 127.0.0.1" in texts, run.explain()
    assert "bind 127.0.0.2: 1" in texts, run.explain()  # EPERM: no rule names it
    assert any(t.startswith("bind(2) 127.0.0.2:0 denied") for t in run.texts()), run.explain()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait_port(port, proc, what):
    """Waits until ``port`` accepts a connection (the server is up) or ``proc`` ended."""
    while proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("%s ended before it listened: %s" % (what, proc.stderr.read() if proc.stderr else ""))


def _vendor(app, package):
    """Copies Debian's ``package`` (python3-*) into the app's src/ (no package index here)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    src = Path(spec.origin).parent
    shutil.copytree(src, app / "src" / package, ignore=shutil.ignore_patterns("__pycache__"))


def _system_has(package):
    return subprocess.run(["/usr/bin/python3", "-c", "import %s" % package], capture_output=True).returncode == 0


REDIS_APP = """\
import os, redis

def main():
    r = redis.Redis(host="localhost", port=int(os.environ["REDIS_PORT"]), socket_timeout=30)
    r.set("ukernel", "made by a confined worker")
    print("redis:", r.get("ukernel").decode(), r.incr("hits"), r.incr("hits"))
"""


@needs_notify
@pytest.mark.skipif(shutil.which("redis-server") is None or not _system_has("redis"),
                    reason="Debian's redis-server and python3-redis are not installed (.ci/run installs them)")
def test_a_synchronous_redis_client_against_a_real_redis_server(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        _wait_port(port, proc, "redis-server")
        app = make_app(tmp_path / "app", REDIS_APP, manifest(connect=["localhost:%d" % port]))
        sys.path.insert(0, "/usr/lib/python3/dist-packages")
        try:
            for package in ("redis", "packaging", "async_timeout", "deprecated", "wrapt"):
                if __import__("importlib").util.find_spec(package) is not None:
                    _vendor(app, package)
        finally:
            sys.path.remove("/usr/lib/python3/dist-packages")
        run = run_app(app, env=["REDIS_PORT=%d" % port])
        assert run.status == 0, run.explain()
        assert "redis: made by a confined worker 1 2" in run.texts("main"), run.explain()
        with socket.create_connection(("127.0.0.1", port)) as c:  # the host's view of what the worker wrote
            c.sendall(b"GET ukernel\r\n")
            assert c.recv(100) == b"$25\r\nmade by a confined worker\r\n"
    finally:
        proc.terminate()
        proc.wait()


PG_APP = """\
import os, psycopg2

def main():
    conn = psycopg2.connect(host="127.0.0.1", port=int(os.environ["PG_PORT"]), user="postgres", dbname="postgres",
                            connect_timeout=30)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
        cur.execute("INSERT INTO notes (body) VALUES (%s), (%s)", ("from libpq", "in a confined worker"))
        cur.execute("SELECT count(*), string_agg(body, ' ' ORDER BY id) FROM notes")
        print("postgres:", cur.fetchone())
    conn.close()
"""


def _pg_bin():
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


@needs_notify
@pytest.mark.skipif(_pg_bin() is None or not _system_has("psycopg2"),
                    reason="Debian's postgresql and python3-psycopg2 are not installed (.ci/run installs them)")
def test_psycopg2_libpq_in_c_against_a_real_postgresql(tmp_path):
    import pwd

    bin_dir = _pg_bin()
    pg = pwd.getpwnam("postgres")
    import tempfile

    data = Path(tempfile.mkdtemp(prefix="ukernel-test-pg-"))  # pytest's tmp_path is root's only (0700 above it)
    os.chown(data, pg.pw_uid, pg.pw_gid)
    as_pg = ["setpriv", "--reuid", str(pg.pw_uid), "--regid", str(pg.pw_gid), "--clear-groups"]
    subprocess.run(as_pg + [str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "postgres", "--auth=trust",
                            "-E", "UTF8"], check=True, capture_output=True, text=True)
    port = _free_port()
    proc = subprocess.Popen(as_pg + [str(bin_dir / "postgres"), "-D", str(data / "db"), "-p", str(port),
                                     "-c", "listen_addresses=127.0.0.1", "-k", str(data)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_port(port, proc, "postgres")
        app = make_app(tmp_path / "app", PG_APP, manifest(connect=["127.0.0.1:%d" % port]))
        sys.path.insert(0, "/usr/lib/python3/dist-packages")
        try:
            _vendor(app, "psycopg2")
        finally:
            sys.path.remove("/usr/lib/python3/dist-packages")
        run = run_app(app, env=["PG_PORT=%d" % port])
        assert run.status == 0, run.explain()
        assert "postgres: (2, 'from libpq in a confined worker')" in run.texts("main"), run.explain()
        out = subprocess.run(as_pg + [str(bin_dir.parent / "bin" / "psql") if (bin_dir / "psql").exists()
                                      else "psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-tAc",
                                      "SELECT body FROM notes ORDER BY id"], capture_output=True, text=True)
        assert out.stdout.split("\n")[:2] == ["from libpq", "in a confined worker"], out
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)


ANYIO_APP = """\
import anyio


async def handle(stream):
    async with stream:
        await stream.send(b"echo " + await stream.receive())


async def main():
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)  # its own socket, bind, listen
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        async with await anyio.connect_tcp("127.0.0.1", port) as c:
            await c.send(b"from anyio")
            print("anyio:", (await c.receive()).decode())
        tg.cancel_scope.cancel()
"""


@needs_notify
@pytest.mark.skipif(not _system_has("anyio"), reason="Debian's python3-anyio is not installed (.ci/run installs it)")
def test_an_anyio_tcp_listener_on_the_kernel_loop(tmp_path):
    app = make_app(tmp_path / "app", ANYIO_APP, manifest(connect=["127.0.0.1:*"], bind=["127.0.0.1:0"]))
    sys.path.insert(0, "/usr/lib/python3/dist-packages")
    try:
        for package in ("anyio", "sniffio", "idna"):
            if __import__("importlib").util.find_spec(package) is not None:
                _vendor(app, package)
    finally:
        sys.path.remove("/usr/lib/python3/dist-packages")
    run = run_app(app)
    assert run.status == 0, run.explain()
    assert "anyio: echo from anyio" in run.texts("main"), run.explain()
    assert any(t.startswith("bind(2): ") for t in run.texts()), run.explain()  # the kernel bound it
