"""Attack class: changing host files' metadata around Landlock (which covers reads and writes of contents, not
``chmod``/``chown``/``utimensat``/``setxattr``). The target is a root-owned file outside the bundle that the test
creates; the effect is checked from outside the worker: mode, owner, times and xattrs unchanged."""

import os

import pytest

from _harness import host_can_confine, make_app, run_app

MAIN = """\
import ctypes, errno, os, sys
import ukernel

LIBC = ctypes.CDLL(None, use_errno=True)
TARGET = os.environ["TARGET"].encode()

def attempt(name, fn):
    ctypes.set_errno(0)
    r = fn()
    err = ctypes.get_errno()
    ukernel.info("attempt %s: %s" % (name, "ok" if r == 0 else errno.errorcode.get(err, str(err))))

def main():
    ukernel.cap_acquire("LOG")
    attempt("chmod", lambda: LIBC.chmod(TARGET, 0o777))
    attempt("chown", lambda: LIBC.chown(TARGET, 12345, 12345))
    attempt("utimensat", lambda: LIBC.utimensat(-100, TARGET, None, 0))
    attempt("setxattr", lambda: LIBC.setxattr(TARGET, b"user.ukernel", b"x", 1, 0))
    return 0
"""


def target_file(tmp_path):
    t = tmp_path / "outside" / "victim.txt"
    t.parent.mkdir()
    t.write_text("host file\n")
    os.chmod(t, 0o640)
    os.utime(t, (1_000_000, 1_000_000))
    return t


def snapshot(path):
    st = os.stat(path)
    try:
        xattrs = sorted(os.listxattr(path))
    except OSError:
        xattrs = None
    return (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, xattrs)


def test_insecure_worker_changes_host_metadata(tmp_path):
    target = target_file(tmp_path)
    before = snapshot(target)
    run = run_app(make_app(tmp_path / "app", MAIN), "--insecure-no-sandbox", env=["TARGET=%s" % target])
    assert run.status == 0, run.explain()
    assert snapshot(target) != before, "without the sandbox the attack must work (else this test proves nothing)"
    assert "attempt chmod: ok" in run.texts("main"), run.explain()


def test_strict_worker_cannot_change_host_metadata(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    target = target_file(tmp_path)
    before = snapshot(target)
    run = run_app(make_app(tmp_path / "app", MAIN), env=["TARGET=%s" % target])
    assert run.status == 0, run.explain()
    assert snapshot(target) == before, run.explain()
    assert not [t for t in run.texts("main") if t.startswith("attempt") and t.endswith(": ok")], run.explain()
