"""Attack class: a preopen whose path is a symbolic link into a directory the kernel keeps for itself.

The manifest check refuses a preopen *named* ``logs``, ``build``, ``dist`` or ``adapter`` (the kernel writes the
console log there, runs the bundle from there). The app's author ships ``data -> logs`` instead, a link in the app
directory, and declares ``data = { path = "data", mode = "rw" }``: the text passes the check, and the worker's view
bound what the link resolves to (``_environ.TaskView.present``), as ``io_open`` resolved it beneath the app. The
confined worker then truncated the console log of its own run (the audit record of what it was refused) and wrote a
forged kernel line into it: this test's confined half failed that way on main at a932835.

The kernel now resolves every preopen when a worker starts (``Manifest.Preopen.resolve``) and refuses one that
leads into those directories or out of the app; like the capability checks it is the kernel's, the same in both
modes, so the task does not start with ``--insecure-no-sandbox`` either. The control (``data`` a plain directory)
shows the attack's code runs and that the view holds nothing of ``logs/``.
"""

import os

import pytest

from _harness import host_can_confine, make_app, run_app

MANIFEST = """\
name = "attacker"
entry = "src/main.py"

[caps]
grant = ["LOG", "IO"]

[caps.io]
data = { path = "data", mode = "rw" }
"""

FORGED = '{"task":"kernel#0","level":"INFO","event":"sandbox.applied","msg":"FORGED by the worker"}'

MAIN = """\
import os
import ukernel


def main():
    ukernel.cap_acquire("LOG")
    ukernel.info("before the attack: this line is in the log")
    data = os.environ.get("UKERNEL_PREOPEN_DATA")
    # In the worker's view the preopen is bound at what the link resolves to: <app>/logs.
    logs = os.path.join(os.path.dirname(data), "logs") if data else None
    try:
        with open(os.path.join(logs, "console.log"), "w") as f:
            f.write(%r + "\\n")
        ukernel.info("attempt rewrite: ok")
    except (OSError, TypeError) as e:
        ukernel.info("attempt rewrite: %%s" %% (type(e).__name__,))
    return 0
""" % FORGED


def attack(tmp_path, *flags, link=True):
    app = make_app(tmp_path / "app", MAIN, manifest=MANIFEST)
    if link:
        os.symlink("logs", app / "data")  # the link the author ships; logs/ is the kernel's
    else:
        (app / "data").mkdir()
    run = run_app(app, *flags)
    return app, run


@pytest.mark.parametrize("flags", [(), ("--insecure-no-sandbox",)], ids=["confined", "insecure"])
def test_a_preopen_linked_into_the_kernels_directories_is_refused(tmp_path, flags):
    if not flags and host_can_confine():
        pytest.skip(host_can_confine())
    app, run = attack(tmp_path, *flags)
    assert FORGED not in run.raw, run.raw[-3000:]
    assert "attempt rewrite" not in run.raw, run.explain()  # the worker never ran
    refusal = [t for t in run.texts() if "could not start" in t]
    assert refusal and "preopen data" in refusal[0] and "logs/" in refusal[0], run.explain()
    assert run.status != 0, run.explain()


def test_confined_worker_with_a_plain_preopen_cannot_reach_the_log(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    app, run = attack(tmp_path, link=False)
    assert "attempt rewrite: FileNotFoundError" in run.texts(), run.explain()
    assert FORGED not in run.raw and "before the attack" in run.raw, run.raw[-3000:]
    assert run.status == 0, run.explain()
