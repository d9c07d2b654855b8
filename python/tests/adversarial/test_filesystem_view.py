"""Attack class: looking at the host's filesystem around Landlock. Landlock governs opening files, not ``stat``,
``inotify_add_watch`` or which paths exist, so a confined worker could still probe any host path (is there a
``/etc/shadow``? when did this file change?) and watch host directories. The mount namespace's minimal root
leaves nothing to probe: host paths outside the runtime and the bundle do not exist for the worker. The view is
also read from outside, through ``/proc/<worker>/root``."""

import os

import pytest

from _harness import Running, host_can_confine, make_app

MAIN = """\
import asyncio, ctypes, errno, os
import ukernel

LIBC = ctypes.CDLL(None, use_errno=True)

def attempt(name, fn):
    try:
        fn()
        outcome = "ok"
    except OSError as e:
        outcome = errno.errorcode.get(e.errno, str(e.errno))
    ukernel.info("attempt %s: %s" % (name, outcome))

def inotify(path):
    fd = LIBC.inotify_init1(0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    if LIBC.inotify_add_watch(fd, path.encode(), 0xFFF) < 0:
        raise OSError(ctypes.get_errno(), "inotify_add_watch")

async def main():
    ukernel.cap_acquire("LOG")
    outside = os.environ["OUTSIDE"]
    attempt("stat /etc/shadow", lambda: os.stat("/etc/shadow"))
    attempt("stat outside", lambda: os.stat(outside))
    attempt("open outside", lambda: open(outside, "rb").read())
    attempt("list /", lambda: os.listdir("/"))
    attempt("inotify outside", lambda: inotify(os.path.dirname(outside)))
    ukernel.info("ready")
    await asyncio.sleep(3600)
"""

ATTEMPTS = ("stat /etc/shadow", "stat outside", "open outside", "list /", "inotify outside")


def outside_file(tmp_path):
    f = tmp_path / "outside" / "secret.txt"
    f.parent.mkdir()
    f.write_text("host secret\n")
    return f


def outcomes(run):
    out = {}
    for t in run.texts("main"):
        if t.startswith("attempt "):
            name, _, outcome = t[len("attempt "):].rpartition(": ")
            out[name] = outcome
    return out


def test_insecure_worker_sees_the_host(tmp_path):
    secret = outside_file(tmp_path)
    app = make_app(tmp_path / "app", MAIN)
    with Running(app, "--insecure-no-sandbox", env=["OUTSIDE=%s" % secret]) as run:
        run.wait_text("main", "ready")
        assert outcomes(run) == {a: "ok" for a in ATTEMPTS}, run.explain()


def test_strict_worker_sees_only_the_minimal_root(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    secret = outside_file(tmp_path)
    app = make_app(tmp_path / "app", MAIN)
    with Running(app, env=["OUTSIDE=%s" % secret]) as run:
        run.wait_text("main", "ready")
        applied = [t for t in run.texts("main") if t.startswith("ukernel: confined: ")]
        if not any("namespaces mount+" in a for a in applied):
            pytest.skip("no mount namespace on this host: %s" % applied)
        got = outcomes(run)
        # Not there at all (the mount namespace), rather than there but refused.
        assert got["stat /etc/shadow"] == "ENOENT", run.explain()
        assert got["stat outside"] == "ENOENT", run.explain()
        assert got["open outside"] == "ENOENT", run.explain()
        assert got["inotify outside"] in ("ENOENT", "EPERM"), run.explain()  # seccomp refuses inotify first
        assert got["list /"] == "EACCES", run.explain()  # Landlock: no read-dir right on /
        # From outside: the worker's root is the minimal one.
        root = "/proc/%d/root" % run.worker_pid("main")
        top = set(os.listdir(root))
        assert {"proc", "sys", "var", "run", "boot"}.isdisjoint(top), top
        assert os.listdir(root + "/home") == ["ukernel"]  # the task's own HOME (its tmpfs), no host home
        assert set(os.listdir(root + "/dev")) == {"null", "zero", "random", "urandom"}
        # /etc: the public data bound from the host, and the files the jail generates (docs/confinement.md)
        assert set(os.listdir(root + "/etc")) <= {"ld.so.cache", "localtime", "ssl", "passwd", "group", "hosts",
                                                  "host.conf", "nsswitch.conf", "services", "protocols",
                                                  "mime.types"}, os.listdir(root + "/etc")
        with open(root + "/etc/passwd") as f:
            assert {l.split(":", 1)[0] for l in f.read().splitlines()} == {"root", "ukernel", "nobody"}
        assert not os.path.exists(root + str(secret)) and not os.path.exists(root + "/etc/shadow")
        assert os.path.isfile(root + str(app / "build/root/src/main.py")), "the bundle is in the view"
        with pytest.raises(OSError):  # read-only, even for root on the host side
            open(root + "/dev/ukernel-test", "w")
