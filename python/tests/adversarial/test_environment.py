"""The environment Python programs assume (issue 13 item 2), through a real kernel and worker: ``HOME``, a private
bounded temporary directory gone when the task ends, a user name, a minimal ``/etc`` (``hosts``, ``services``,
``protocols``, ``mime.types``, ``passwd``/``group`` entries for the worker). Each fact is checked in the strict
sandbox and with ``--insecure-no-sandbox`` (where the kernel gives a private host scratch directory instead of a
tmpfs, removed when the worker ends). The bound of the temporary filesystem is an exhaustion attack: writing past
``limits.tmp_bytes`` gives ENOSPC, and nothing reaches the host's disk.
"""

import os

import pytest

from _harness import host_can_confine, make_app, run_app

strict_only = pytest.mark.skipif(host_can_confine() is not None, reason=host_can_confine() or "")

FACTS = """\
import getpass, grp, mimetypes, os, pwd, socket, tempfile

def fact(name, fn):
    try:
        print("fact %s: %s" % (name, fn()))
    except Exception as e:
        print("fact %s: FAILED %s: %s" % (name, type(e).__name__, e))

def home_writable():
    path = os.path.join(os.path.expanduser("~"), ".config-test")
    with open(path, "w") as f:
        f.write("ok")
    return os.path.expanduser("~")

def tmp_writable():
    with tempfile.NamedTemporaryFile(dir=None) as f:
        f.write(b"x")
        f.flush()
        return os.path.dirname(f.name) == tempfile.gettempdir() == os.environ["TMPDIR"]

def main():
    fact("home", home_writable)
    fact("tmp", tmp_writable)
    fact("tmpdir", lambda: os.environ["TMPDIR"])
    fact("user", getpass.getuser)
    fact("logname", lambda: os.environ["LOGNAME"] == os.environ["USER"] == getpass.getuser())
    fact("passwd", lambda: pwd.getpwuid(os.getuid()).pw_name == getpass.getuser())
    fact("passwd-home", lambda: pwd.getpwuid(os.getuid()).pw_dir)
    fact("group", lambda: grp.getgrgid(os.getgid()).gr_name)
    fact("localhost", lambda: sorted({a[4][0] for a in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)}))
    fact("http", lambda: socket.getservbyname("http", "tcp"))
    fact("tcp", lambda: socket.getprotobyname("tcp"))
    fact("mime", lambda: mimetypes.guess_type("x.json")[0] + " " + mimetypes.guess_type("x.png")[0])
    fact("mimefile", lambda: any(os.path.isfile(f) for f in mimetypes.knownfiles))
"""


def facts(run):
    out = {}
    for t in run.texts("main"):
        if t.startswith("fact "):
            name, value = t[len("fact "):].split(": ", 1)
            out[name] = value
    return out


def check_common(f, run):
    for name, value in f.items():
        assert not value.startswith("FAILED"), (name, value, run.explain())
    assert f["tmp"] == "True" and f["logname"] == "True" and f["passwd"] == "True", run.explain()
    assert "127.0.0.1" in f["localhost"], run.explain()
    assert f["http"] == "80" and f["tcp"] == "6", run.explain()
    assert f["mime"] == "application/json image/png" and f["mimefile"] == "True", run.explain()


@strict_only
def test_confined_worker_has_home_tmp_user_and_etc(tmp_path):
    run = run_app(make_app(tmp_path / "app", FACTS))
    assert run.status == 0, run.explain()
    f = facts(run)
    check_common(f, run)
    assert f["home"] == "/home/ukernel" == f["passwd-home"], run.explain()
    assert f["tmpdir"] == "/tmp", run.explain()
    assert f["user"] == "ukernel" == f["group"], run.explain()
    assert f["localhost"] == "['127.0.0.1', '::1']", run.explain()  # the generated /etc/hosts


def test_insecure_worker_has_home_tmp_user_and_the_hosts_etc(tmp_path):
    run = run_app(make_app(tmp_path / "app", FACTS), "--insecure-no-sandbox")
    assert run.status == 0, run.explain()
    f = facts(run)
    if not any(os.path.isfile(p) for p in ("/etc/mime.types",)):
        pytest.skip("this host has no /etc/mime.types for an unconfined worker to read")
    check_common(f, run)
    assert f["home"].endswith("/home") and f["tmpdir"].endswith("/tmp"), run.explain()
    assert os.path.basename(os.path.dirname(f["tmpdir"])).startswith("ukernel-task-"), run.explain()
    # the kernel's scratch directory is removed when the worker ends
    assert not os.path.exists(os.path.dirname(f["tmpdir"])), run.explain()


GONE = """\
import os, sys

def main():
    marks = [os.path.join(os.environ["TMPDIR"], "mark"), os.path.join(os.environ["HOME"], "mark")]
    seen = [m for m in marks if os.path.exists(m)]
    print("seen %s in %s" % (len(seen), os.environ["TMPDIR"]))
    first = os.path.join(os.environ["UKERNEL_PREOPEN_STATE"], "first")
    if not os.path.exists(first):
        open(first, "w").close()
        for m in marks:
            with open(m, "w") as f:
                f.write("from the first run")
        return 3  # fails: restarted once
    return 0
"""

GONE_MANIFEST = """\
name = "gone"
entry = "src/main.py"

[caps]
grant = ["LOG", "IO"]

[caps.io]
state = { path = "state", mode = "rw" }

[restart]
policy = "on-failure"
max_retries = 1
backoff_ms = 10
"""


@pytest.mark.parametrize("flags", [pytest.param((), marks=strict_only), ("--insecure-no-sandbox",)],
                         ids=["strict", "insecure"])
def test_the_temporary_directory_and_home_are_gone_when_the_task_ends(tmp_path, flags):
    app = make_app(tmp_path / "app", GONE, GONE_MANIFEST)
    (app / "state").mkdir()
    run = run_app(app, *flags)
    assert run.status == 0, run.explain()
    seen = [t for t in run.texts("main") if t.startswith("seen ")]
    assert len(seen) == 2, run.explain()  # the first run and its restart
    assert seen[0].startswith("seen 0 ") and seen[1].startswith("seen 0 "), run.explain()
    assert (app / "state" / "first").exists()
    if flags:  # the host scratch directories of both runs are gone
        for line in seen:
            assert not os.path.exists(os.path.dirname(line.split(" in ", 1)[1])), run.explain()


FILL = """\
import errno, os

def main():
    written = 0
    chunk = b"x" * 65536
    try:
        with open(os.path.join(os.environ["TMPDIR"], "fill"), "wb") as f:
            while written < (8 << 20):
                f.write(chunk)
                f.flush()
                written += len(chunk)
        outcome = "no error"
    except OSError as e:
        outcome = errno.errorcode.get(e.errno, str(e.errno))
    print("fill %s after %d" % (outcome, written))
    try:
        with open(os.path.join(os.environ["HOME"], "more"), "wb") as f:
            f.write(chunk)
            f.flush()
        print("home ok")
    except OSError as e:
        print("home " + errno.errorcode.get(e.errno, str(e.errno)))
"""

FILL_MANIFEST = """\
name = "fill"
entry = "src/main.py"

[caps]
grant = ["LOG"]

[limits]
tmp_bytes = 1048576
"""


@strict_only
def test_writing_past_limits_tmp_bytes_is_enospc_and_home_shares_the_bound(tmp_path):
    run = run_app(make_app(tmp_path / "app", FILL, FILL_MANIFEST))
    assert run.status == 0, run.explain()
    fill = [t for t in run.texts("main") if t.startswith("fill ")]
    assert fill and fill[0].startswith("fill ENOSPC after "), run.explain()
    assert int(fill[0].rsplit(" ", 1)[1]) <= 1 << 20, run.explain()
    assert "home ENOSPC" in run.texts("main"), run.explain()
    assert not list(tmp_path.rglob("fill"))  # nothing of it on the host


def test_insecure_worker_fills_the_host_disk_unbounded(tmp_path):
    """Without the sandbox there is no tmpfs: the same writes go to the host's disk (the layer matters)."""
    run = run_app(make_app(tmp_path / "app", FILL, FILL_MANIFEST), "--insecure-no-sandbox")
    assert run.status == 0, run.explain()
    assert "fill no error after %d" % (8 << 20) in run.texts("main"), run.explain()
