"""The asyncio compatibility suite: every program in ``compat/`` is an ordinary asyncio program (it imports only
``asyncio`` and the standard library, asserts its own behaviour and exits 0). Each runs twice with the same
assertions: on bare CPython (``python3 prog.py``: asyncio's own loop on host sockets) and under the kernel, as the
entry of an app whose manifest grants NET with bind/connect on 127.0.0.1:* (and IPC, for the loop's wake-up
channel): there asyncio is the kernel's loop, its selector is ``io_poll`` and its sockets are kernel sockets.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_e2e_kernel import NET_PENDING, PROBE, run_app, write_app

COMPAT = Path(__file__).resolve().parent / "compat"
PROGRAMS = sorted(p.stem for p in COMPAT.glob("*.py"))
TIMEOUT = 180

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
    # the program did run on kernel objects: the asyncio layer acquired NET (sockets) or IPC (wake-up channel)
    assert "caps: acquired" in run.log, run.explain()


@pytest.mark.skipif(NET_PENDING is not None, reason=NET_PENDING or "")
@pytest.mark.parametrize("name", ["bulk_transfer", "protocols", "threads_executor"])
def test_under_the_kernel_without_ipc(name, tmp_path):
    """Without IPC the loop has no wake-up channel: writes the kernel could not take at once and other threads'
    wake-ups are then caught by bounded waits instead."""
    if PROBE.error:
        pytest.fail(PROBE.error, pytrace=False)
    manifest = MANIFEST.format(name=name.replace("_", "-")).replace('"NET", "IPC"', '"NET"')
    app = write_app(tmp_path / "app", manifest, {"src/main.py": (COMPAT / (name + ".py")).read_text()})
    run = run_app(app, TIMEOUT)
    assert run.status == 0 and "COMPAT OK " + name in run.log, run.explain()
