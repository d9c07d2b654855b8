"""Attack class: files by path beneath the preopens. A worker opens files beneath its preopens by path (what
``sqlite3``, ``logging.FileHandler`` and ``open()`` do), read-only or read-write as the manifest says — and nothing
else: not through a read-only preopen, not through ``..``, not through a symbolic link the host's side of the
preopen holds pointing outside it. The layers: the preopen's bind mount in the worker's view (read-only for
``ro``), Landlock rules derived from the manifest, the mount namespace (what is outside the view does not exist).

Each attempt's host-side effect is read from outside (the file's bytes, whether a file appeared), and each is shown
to succeed with ``--insecure-no-sandbox``.
"""

import os
import sqlite3

import pytest

from _harness import host_can_confine, make_app, run_app

strict_only = pytest.mark.skipif(host_can_confine() is not None, reason=host_can_confine() or "")

MANIFEST = """\
name = "files"
entry = "src/main.py"

[caps]
grant = ["LOG", "IO"]

[caps.io]
data = { path = "data", mode = "rw" }
conf = { path = "conf", mode = "ro" }
"""

SQLITE = """\
import logging, os, sqlite3

def main():
    path = os.path.join(os.environ["UKERNEL_PREOPEN_DATA"], "app.db")
    db = sqlite3.connect(path)
    db.execute("create table notes (id integer primary key, text text)")
    db.executemany("insert into notes (text) values (?)", [("one",), ("two",)])
    db.commit()
    print("rows", db.execute("select count(*) from notes").fetchone()[0])
    db.close()
    log = logging.getLogger("app")
    log.addHandler(logging.FileHandler(os.path.join(os.environ["UKERNEL_PREOPEN_DATA"], "app.log")))
    log.warning("logged by path")
"""


@strict_only
def test_sqlite_and_logging_on_an_rw_preopen_work_and_the_host_reads_them_back(tmp_path):
    app = make_app(tmp_path / "app", SQLITE, MANIFEST, files={"conf/settings.txt": "x"})
    (app / "data").mkdir()
    run = run_app(app)
    assert run.status == 0, run.explain()
    assert "rows 2" in run.texts("main"), run.explain()
    db = sqlite3.connect(str(app / "data" / "app.db"))
    assert db.execute("select text from notes order by id").fetchall() == [("one",), ("two",)]
    assert (app / "data" / "app.log").read_text() == "logged by path\n"
    st, top = os.stat(app / "data" / "app.db"), os.stat(app / "data")
    # written as the preopen's owner on the host (an idmapped mount when the kernel is root), not the worker id
    assert (st.st_uid, st.st_gid) == (top.st_uid, top.st_gid)


ATTEMPTS = """\
import os

def attempt(what, fn):
    try:
        r = fn()
        print("attempt %s: ok %s" % (what, r if isinstance(r, str) else ""))
    except OSError as e:
        print("attempt %s: %s" % (what, type(e).__name__))

def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return "wrote"

def read(path):
    with open(path) as f:
        return f.read().strip()

def main():
    data, conf = os.environ["UKERNEL_PREOPEN_DATA"], os.environ["UKERNEL_PREOPEN_CONF"]
    attempt("ro-write", lambda: write(os.path.join(conf, "settings.txt"), "changed"))
    attempt("ro-create", lambda: write(os.path.join(conf, "new.txt"), "new"))
    attempt("ro-remove", lambda: os.remove(os.path.join(conf, "settings.txt")))
    attempt("ro-read", lambda: read(os.path.join(conf, "settings.txt")))
    attempt("rw-write", lambda: write(os.path.join(data, "mine.txt"), "mine"))
    attempt("dotdot-read", lambda: read(os.path.join(data, "..", "..", "outside", "secret.txt")))
    attempt("dotdot-write", lambda: write(os.path.join(data, "..", "..", "outside", "dotdot.txt"), "x"))
    attempt("dotdot-write-up", lambda: write(os.path.join(data, "..", "..", "up.txt"), "x"))
    attempt("link-read", lambda: read(os.path.join(data, "secret-link")))
    attempt("link-write", lambda: write(os.path.join(data, "victim-link"), "overwritten"))
    attempt("dirlink-write", lambda: write(os.path.join(data, "outside-dir", "planted.txt"), "x"))
"""


def attempts(run):
    out = {}
    for t in run.texts("main"):
        if t.startswith("attempt "):
            what, outcome = t[len("attempt "):].split(": ", 1)
            out[what] = outcome.strip()
    return out


def escape_app(tmp_path):
    app = make_app(tmp_path / "app", ATTEMPTS, MANIFEST, files={"conf/settings.txt": "original"})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the host's secret")
    (outside / "victim.txt").write_text("untouched")
    (app / "data").mkdir()
    # made by the test on the host side of the rw preopen: links pointing outside it
    os.symlink(str(outside / "secret.txt"), str(app / "data" / "secret-link"))
    os.symlink(str(outside / "victim.txt"), str(app / "data" / "victim-link"))
    os.symlink(str(outside), str(app / "data" / "outside-dir"))
    return app, outside


def host_effects(app, outside):
    return {
        "settings": (app / "conf" / "settings.txt").read_text() if (app / "conf" / "settings.txt").exists() else None,
        "conf-new": (app / "conf" / "new.txt").exists(),
        "victim": (outside / "victim.txt").read_text(),
        "planted": (outside / "planted.txt").exists(),
        "dotdot": (outside / "dotdot.txt").exists(),
        "up": (outside.parent / "up.txt").exists(),
        "mine": (app / "data" / "mine.txt").read_text() if (app / "data" / "mine.txt").exists() else None,
    }


def test_insecure_worker_escapes_its_preopens_by_path(tmp_path):
    app, outside = escape_app(tmp_path)
    run = run_app(app, "--insecure-no-sandbox")
    assert run.status == 0, run.explain()
    a = attempts(run)
    assert a["dotdot-read"] == "ok the host's secret", run.explain()
    assert a["link-read"] == "ok the host's secret", run.explain()
    # the ro preopen is read-only only to io_open: by path the unconfined worker rewrites and removes it
    assert a["ro-write"] == "ok wrote", run.explain()
    assert host_effects(app, outside) == {"settings": None, "conf-new": True, "victim": "overwritten",
                                          "planted": True, "dotdot": True, "up": True, "mine": "mine"}


@strict_only
def test_confined_worker_writes_only_beneath_its_rw_preopen(tmp_path):
    app, outside = escape_app(tmp_path)
    run = run_app(app)
    assert run.status == 0, run.explain()
    a = attempts(run)
    assert a["ro-read"] == "ok original", run.explain()
    assert a["rw-write"].startswith("ok"), run.explain()
    for what in ("ro-write", "ro-create", "ro-remove", "dotdot-read", "dotdot-write", "link-read", "link-write",
                 "dirlink-write"):
        assert not a[what].startswith("ok"), (what, run.explain())
    assert host_effects(app, outside) == {"settings": "original", "conf-new": False, "victim": "untouched",
                                          "planted": False, "dotdot": False, "up": False, "mine": "mine"}
    # "../../up.txt" names a directory of the worker's own view (the path down to its preopen, on its private
    # tmpfs): whatever it wrote there never reached the host (checked above)
