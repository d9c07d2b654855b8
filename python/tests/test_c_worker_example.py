"""examples/c-worker runs by hand: the commands of its README, as written (the first ``sh`` block), from the
repository's root: gcc builds the C worker, ``./ukernel run`` runs it on the task's kernel connection, confined as a
worker (docs/confinement.md, "Subprocesses"), and it completes its channel round trip."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "examples" / "c-worker" / "README.md"


def readme_commands():
    block = re.search(r"```sh\n(.*?)```", README.read_text("utf-8"), re.S)
    assert block, "examples/c-worker/README.md has no sh block"
    return block.group(1)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed: the C worker cannot be built")
def test_the_readme_commands_run_the_c_worker():
    commands = readme_commands()
    assert "./ukernel run examples/c-worker" in commands
    proc = subprocess.run(["bash", "-e", "-c", commands], cwd=str(REPO), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for needle in ("main#1 OUT   ukernel: confined:", "c-worker: task 1 up at monotonic", "ABI 0x1000",
                   "c-worker: channel round trip ok", "task main#1 exited with status 0"):
        assert needle in out, "%r not in the output\n%s" % (needle, out)
    assert "execute: %s" % (REPO / "examples" / "c-worker" / "bin" / "c-worker") in out, out
