"""The asyncio compatibility suite: every program in ``compat/`` is an ordinary asyncio program (it imports only
``asyncio`` and the standard library, asserts its own behaviour and exits 0). Each runs twice with the same
assertions: on bare CPython (``python3 prog.py``: asyncio's own loop on host sockets) and under the kernel, as the
entry of an app whose manifest grants NET with bind/connect on 127.0.0.1:* (and IPC, for the selector's cancel
channel): there asyncio is the kernel's loop (one epoll for host descriptors and a parked ``io_poll``) and its
connections are sockets the kernel granted; and once more with ``UKERNEL_NET_DIRECT=0``, where they are
kernel-buffered sockets (every read and write a kernel call).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from test_e2e_kernel import NET_PENDING, PROBE, run_app, write_app

COMPAT = Path(__file__).resolve().parent / "compat"
PROGRAMS = sorted(p.stem for p in COMPAT.glob("*.py"))
TIMEOUT = 180
NO_SOCKETS = {"signals", "threads_executor"}  # programs that make no connection (nothing of theirs goes through the kernel)

MANIFEST = """
    name = "compat-{name}"
    entry = "src/main.py:main"
    [caps]
    grant = ["LOG", "NET", "IPC"]
    [caps.net]
    bind = ["127.0.0.1:*"]
    connect = ["127.0.0.1:*"]
    """


@pytest.mark.parametrize("name", PROGRAMS)
def test_bare_cpython(name):
    proc = subprocess.run([sys.executable, "-B", str(COMPAT / (name + ".py"))], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=str(COMPAT), env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0 and "COMPAT OK " + name in proc.stdout, (proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")
@pytest.mark.parametrize("name", PROGRAMS)
def test_under_the_kernel(name, tmp_path):
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    app = write_app(tmp_path / "app", MANIFEST.format(name=name.replace("_", "-")),
                    {"src/main.py": (COMPAT / (name + ".py")).read_text()})
    run = run_app(app, TIMEOUT)
    assert run.status == 0 and "COMPAT OK " + name in run.log, run.explain()
    if name not in NO_SOCKETS:  # the program's connections went through the kernel: it acquired NET
        assert re.search(r"caps: acquired \S*NET", run.log), run.explain()


@pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")
@pytest.mark.parametrize("name", sorted(set(PROGRAMS) - NO_SOCKETS))
def test_under_the_kernel_buffered(name, tmp_path):
    """The same programs on kernel-buffered sockets (``UKERNEL_NET_DIRECT=0``): every read and write a kernel call,
    every socket a kernel object in the parked ``io_poll``."""
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    app = write_app(tmp_path / "app", MANIFEST.format(name=name.replace("_", "-")),
                    {"src/main.py": (COMPAT / (name + ".py")).read_text()})
    run = run_app(app, TIMEOUT, "-e", "UKERNEL_NET_DIRECT=0")
    assert run.status == 0 and "COMPAT OK " + name in run.log, run.explain()


@pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")
@pytest.mark.parametrize("name", ["bulk_transfer", "protocols", "threads_executor"])
def test_under_the_kernel_without_ipc(name, tmp_path):
    """Without IPC the selector has no cancel channel: a changed set of kernel objects (kernel-buffered sockets
    here) is parked once the old poll answered, which waits at most FALLBACK_SLICE."""
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    manifest = MANIFEST.format(name=name.replace("_", "-")).replace('"NET", "IPC"', '"NET"')
    app = write_app(tmp_path / "app", manifest, {"src/main.py": (COMPAT / (name + ".py")).read_text()})
    run = run_app(app, TIMEOUT, "-e", "UKERNEL_NET_DIRECT=0")
    assert run.status == 0 and "COMPAT OK " + name in run.log, run.explain()
