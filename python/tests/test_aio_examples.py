"""The examples run through the real kernel: examples/echo (served two clients, stopped cleanly by SIGTERM),
examples/web (unmodified aiohttp, Debian's copy vendored into the app, answering HTTP from the host),
examples/pipeline (producer → consumer tasks, a handle moved inside a message), examples/client (an allowed
connect, a refused one). Each example is copied to a temporary directory first, so that runs leave nothing in the
repository."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from test_e2e_kernel import LAUNCHER, NET_PENDING, PROBE, run_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example(tmp_path):
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)

    def copy(name):
        dest = tmp_path / name
        shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns("build", "logs", "dist", "__pycache__"))
        return dest

    return copy


HANG = 120  # seconds; only bounds a hang


def await_log(app, proc, pattern, count=1):
    """Waits for ``count`` console lines matching ``pattern`` (the console is flushed per line); returns the
    matches. Fails if the run ends first; the bound only guards a hang."""
    log = app / "logs" / "console.log"
    deadline = time.monotonic() + HANG
    while True:
        text = log.read_text("utf-8", "replace") if log.exists() else ""
        found = re.findall(pattern, text)
        if len(found) >= count:
            return found
        assert proc.poll() is None, "the run ended first:\n%s\n%s" % (text, proc.communicate())
        assert time.monotonic() < deadline, "no %d lines matching %r:\n%s" % (count, pattern, text)
        time.sleep(0.05)


@pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")
def test_echo_example(example):
    app = example("echo")
    # PORT=0: the kernel picks a free port and the example logs it (no port chosen here that another process
    # could take meanwhile)
    proc = subprocess.Popen([LAUNCHER, "run", str(app), "-q", "-e", "PORT=0"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(app))
    try:
        port = int(await_log(app, proc, r"echo server listening on 127\.0\.0\.1:(\d+)")[0])
        assert port > 0
        with socket.create_connection(("127.0.0.1", port), timeout=HANG) as probe:
            probe.sendall(b"hello, echo")
            assert probe.recv(100) == b"hello, echo"
        big = os.urandom(1 << 20)
        with socket.create_connection(("127.0.0.1", port), timeout=HANG) as s:
            s.sendall(big)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while chunk := s.recv(1 << 16):
                got += chunk
        assert bytes(got) == big
        # both connections counted (the server logs each close just before counting it), then the stop
        await_log(app, proc, r"closed after \d+ bytes", 2)
        proc.send_signal(signal.SIGTERM)  # the kernel passes it on; the app's add_signal_handler stops cleanly
        proc.communicate(timeout=HANG)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (app / "logs" / "console.log").read_text("utf-8", "replace")
    assert proc.returncode == 0, log
    assert "echo server listening on 127.0.0.1:%d" % port in log
    assert "echo server stopped after 2 connection(s)" in log, log


def test_pipeline_example(example):
    app = example("pipeline")
    run = run_app(app)
    assert run.status == 0, run.explain()
    assert "20 results, sum of squares 2870; consumer exited with code 0" in run.log, run.explain()
    assert "consumer squared 20 numbers" in run.log


@pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")
def test_client_example(example):
    app = example("client")
    run = run_app(app)
    assert run.status == 0, run.explain()
    assert "answered: hello, ukernel" in run.log, run.explain()
    assert "refused as expected: [Errno 13] net_connect 203.0.113.7:80: denied" in run.log, run.explain()
    assert 'add "203.0.113.7:80" to [caps.net] connect' in run.log  # the kernel's own line names the rule



def _vendor_debian_aiohttp(dest_src):
    """Copies Debian's aiohttp and the packages it imports into an app's src/ (docs/packages.md, "Vendoring")."""
    probe = subprocess.run(["/usr/bin/python3", "-c",
                            "import sys, aiohttp.web\n"
                            "print('\\n'.join(sorted({v.__file__ for m, v in sys.modules.items() if '.' not in m"
                            " and getattr(v, '__file__', None) and '/dist-packages/' in v.__file__})))"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("Debian's python3-aiohttp is not installed (apt-get install python3-aiohttp)")
    for init in probe.stdout.split():
        top = Path(init).parent if init.endswith("__init__.py") else Path(init)
        if top.name.startswith("_distutils_hack"):
            continue
        target = dest_src / top.name
        if top.is_dir():
            shutil.copytree(top, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(top, target)


@pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")
def test_web_example(example):
    import json
    import urllib.request

    app = example("web")
    (app / "requirements.txt").unlink()  # no package index in the test: Debian's aiohttp, vendored instead
    _vendor_debian_aiohttp(app / "src")
    proc = subprocess.Popen([LAUNCHER, "run", str(app), "-q", "-e", "PORT=0"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(app))
    try:
        port = int(await_log(app, proc, r"web: aiohttp [\d.]+ listening on http://127\.0\.0\.1:(\d+)/")[0])
        for n in (1, 2):
            with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=HANG) as r:
                assert r.status == 200
                assert json.loads(r.read()) == {"hello": "from a ukernel worker", "served": n}
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=HANG) as r:
            assert r.read() == b"ok"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=HANG)
        assert proc.returncode == 0, err
        await_log(app, proc, r"web: stopped after 2 request\(s\)")
    finally:
        if proc.poll() is None:
            proc.kill()
