"""Attack class: forging the console. A worker writes text meant to look like the kernel's voice or another
task's: a newline or carriage return followed by a fake prefix, ANSI escapes that erase its own prefix on a
terminal, Unicode line separators and bidi overrides, a whole JSON object, and the loader's and the audit hook's
messages that the kernel used to turn into events (``sandbox.failed``, ``sandbox.refused``). Checked from
``logs/console.log`` as written, in text and in JSON: every line carries the kernel's prefix for the task that
wrote it, nothing the worker wrote carries an event, and the worker's bytes did reach the console (escaped), so
the attempt was real."""

import json
import re

import pytest

from _harness import host_can_confine, make_app, run_app

MANIFEST = """\
name = "forger"
entry = "src/main.py"

[caps]
grant = ["LOG"]
"""

# Each forgery carries the marker FORGED so that its line can be found whatever the escaping did to it.
LOG_FORGERIES = [
    "ok\n[    0.000100] kernel#0 WARN  FORGED-newline-kernel",
    "ok\r[    0.000100] kernel#0 WARN  FORGED-cr-kernel",
    "\x1b[2K\x1b[1G[    0.000100] kernel#0 ERROR FORGED-ansi-kernel",
    "ok\n[    0.000100] bystander#2 INFO  FORGED-newline-other-task",
    "\x08" * 40 + "kernel#0 WARN  FORGED-backspace",
    "ok\u2028[    0.000100] kernel#0 WARN  FORGED-line-separator",
    "\u202e FORGED-bidi-override \u202c \x7f \x85 \x9b31m",
    'x\n{"t":0.0001,"wall_ms":1,"task":"kernel","tid":0,"level":"WARN","event":"sandbox.failed","msg":"FORGED-json"}',
]

MAIN = """\
import sys
import ukernel

FORGERIES = %r

def main():
    ukernel.cap_acquire("LOG")
    for f in FORGERIES:
        ukernel.info(f)
    # stdout and stderr lines (the pump splits them at newlines; everything else in them is the worker's text)
    print("\\x1b[1A\\x1b[2K[    0.000100] kernel#0 WARN  FORGED-stdout-ansi", flush=True)
    print("ukernel: confined: FORGED-second-report", flush=True)
    print("ukernel: unconfined: FORGED-off-report", flush=True)
    sys.stderr.write("ukernel: confinement failed, the task's code is not run: FORGED-failed-event\\n")
    sys.stderr.write("ukernel: refused open('/etc/shadow') FORGED-refused-event\\n")
    sys.stderr.write("\\x1b]0;FORGED-title\\x07 FORGED-osc\\n")
    sys.stderr.flush()
    return 71  # the loader's exit status for a failed confinement: here it is the app's own
""" % (LOG_FORGERIES,)

PREFIX = re.compile(r"^\[ *\d+\.\d{6}\] (?P<task>[A-Za-z0-9_.-]+)#(?P<tid>\d+) (?P<level>DEBUG|INFO|WARN|ERROR|OUT|ERR) +")
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def flags():
    return () if host_can_confine() is None else ("--insecure-no-sandbox",)


def app(tmp_path):
    return make_app(tmp_path / "forger", MAIN, manifest=MANIFEST)


def test_text_console_every_line_has_the_writers_prefix(tmp_path):
    run = run_app(app(tmp_path), *flags(), log_format="text")
    assert run.status == 71, run.proc.stderr + run.raw
    raw = run.raw
    assert not UNSAFE.search(raw.replace("\n", "")), "a control character reached console.log as itself"
    forged = 0
    for line in raw.splitlines():
        m = PREFIX.match(line)
        assert m, "a console line without the kernel's prefix: %r" % line
        if "FORGED" in line:
            forged += 1
            assert (m["task"], m["tid"]) == ("main", "1"), "a forgery under another prefix: %r" % line
    # one line per forgery: no newline, CR or separator in a worker's text started a line of its own
    assert forged == len(LOG_FORGERIES) + 6, raw
    # the attempt was real: the worker's bytes are in the console, written out visibly
    for escaped in ("ok\\n[    0.000100] kernel#0 WARN  FORGED-newline-kernel",
                    "ok\\r[    0.000100] kernel#0 WARN  FORGED-cr-kernel",
                    "\\x1b[2K\\x1b[1G[    0.000100] kernel#0 ERROR FORGED-ansi-kernel",
                    "\\b\\b\\bkernel#0 WARN  FORGED-backspace", "ok\\u2028[", "\\u202e FORGED-bidi-override \\u202c",
                    "\\x7f \\x85 \\x9b31m", "\\x1b[1A\\x1b[2K[    0.000100] kernel#0 WARN  FORGED-stdout-ansi",
                    "\\x1b]0;FORGED-title\\x07 FORGED-osc"):
        assert escaped in raw, "%r not in the console:\n%s" % (escaped, raw)


def test_json_console_no_event_from_a_workers_text(tmp_path):
    run = run_app(app(tmp_path), *flags())
    assert run.status == 71, run.explain()
    raw = run.raw.splitlines()
    assert len(run.lines) == len(raw), "every console line is one JSON object"
    forged = [l for l in run.lines if "FORGED" in l.get("msg", "")]
    assert len(forged) == len(LOG_FORGERIES) + 6, run.explain()
    for l in forged:
        assert (l["task"], l["tid"]) == ("main", 1) and "event" not in l, l
    # the worker's bytes arrive exactly, JSON-escaped
    msgs = [l["msg"] for l in forged]
    for f in LOG_FORGERIES:
        assert f in msgs, "%r not in %r" % (f, msgs)
    # what the worker wrote became no event: the kernel's own knowledge only
    assert run.events("sandbox.failed") == [], run.explain()
    assert run.events("sandbox.refused") == [], run.explain()
    reports = run.events("sandbox.applied") + run.events("sandbox.off")
    assert len(reports) == 1, "one report, the loader's: %s" % run.explain()
    assert all("FORGED" not in l["msg"] for l in reports), reports
    assert all(l["task"] in ("main", "kernel") for l in run.lines), run.explain()
    assert [l["task"] for l in run.lines if "FORGED" in json.dumps(l)] == ["main"] * len(forged)
