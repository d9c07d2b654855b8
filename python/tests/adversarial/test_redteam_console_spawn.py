"""Attack class: multiplying the console budget by spawning. The console holds each task to an output budget (a
burst of 5000 lines, then 500 a second: ``ConsoleLimits.DEFAULT``), but a spawned task used to get a fresh budget
of its own: a task that spawns children which each write their burst at once and exit wrote ``children × 5000``
lines at once, and as many more with every new child, filling the operator's disk at the rate it can start
processes. Now a spawned task writes within its parent's budget (the tree under a declared task shares one), as
its messages in flight are charged to its parent.

Read from ``logs/console.log``: the lines the app's tasks got onto the console stay within one budget over the
time the kernel's clock says they took, and every dropped line is counted in a ``console.suppressed`` report.
"""

import re

from _harness import host_can_confine, make_app, run_app

CHILDREN, LINES = 6, 5000

MANIFEST = """\
name = "spawner"
entry = "src/main.py"

[caps]
grant = ["LOG", "TASK"]

[[task]]
name = "child"
entry = "src/child.py"
start = "spawn"
"""

MAIN = """\
import ukernel

def main():
    ukernel.cap_acquire("LOG", "TASK")
    children = [ukernel.task_spawn("child", ["LOG"]) for _ in range(%d)]
    for c in children:
        ukernel.poll([(c, ukernel.EV_READABLE)], None)  # readable once it ended
    return 0
""" % CHILDREN

CHILD = """\
import sys

def main():
    out = sys.stdout
    for i in range(%d):
        out.write("flood out %%d\\n" %% i)
    out.flush()
    return 0
""" % LINES

# ConsoleLimits.DEFAULT (kernel/src/main/java/io/ukernel/kernel/console/ConsoleLimits.java)
OUTPUT_BURST, OUTPUT_RATE = 5000, 500
SUPPRESSED = re.compile(r"ukernel: (\d+) output lines? of this task suppressed")


def flags():
    return () if host_can_confine() is None else ("--insecure-no-sandbox",)


def test_spawned_tasks_write_within_their_parents_budget(tmp_path):
    app = make_app(tmp_path / "app", MAIN, MANIFEST, files={"src/child.py": CHILD})
    run = run_app(app, *flags())
    assert run.status == 0, run.explain()
    flood = [l for l in run.lines if l["msg"].startswith("flood out ")]
    suppressed = sum(int(m[1]) for m in (SUPPRESSED.search(l["msg"]) for l in run.events("console.suppressed")) if m)
    assert len(flood) + suppressed == CHILDREN * LINES, (len(flood), suppressed)  # nothing silently lost
    span = flood[-1]["t"] - flood[0]["t"]
    # One shared budget shows about one burst plus the rate over the span; six budgets would show all 30 000. The
    # bound allows a whole second burst, so the lines' console timestamps (taken after admission, on a loaded
    # machine) can never make it fail when the budget is shared.
    assert len(flood) <= 2 * OUTPUT_BURST + OUTPUT_RATE * span, \
        "%d lines in %.2f s: the children's budgets added up\n%s" % (len(flood), span, run.explain()[-3000:])
