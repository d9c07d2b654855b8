"""Attack class: flooding the console. A worker writes log lines, stdout lines and denied calls (each an audit
line) as fast as it can, to fill the operator's disk and drown other lines. Checked from ``logs/console.log``: the
lines of the task stay within its budget (burst plus rate over the time the kernel's own clock says the flood
took), the bystander kernel lines still appear, and nothing is silently lost: the ``console.suppressed`` reports
add up, with the lines shown, to exactly what the worker sent, and they are not zero: the worker did send far more
than its budget (before the limits, every one of its 90 000 lines went to the log)."""

import re

from _harness import host_can_confine, make_app, run_app

N = 30000  # of each kind

MAIN = """\
import sys
import ukernel

N = %d

def main():
    ukernel.cap_acquire("LOG")
    for i in range(N):
        ukernel.info("flood log %%d" %% i)
    out = sys.stdout
    for i in range(N):
        out.write("flood out %%d\\n" %% i)
    out.flush()
    for i in range(N):
        try:
            ukernel.time_monotonic_ns()  # TIME is not active: ERR_DENIED, and a cap.denied audit line
        except Exception:
            pass
    return 0
""" % N

# ConsoleLimits.DEFAULT (kernel/src/main/java/io/ukernel/kernel/console/ConsoleLimits.java)
OUTPUT_BURST, OUTPUT_RATE = 5000, 500
AUDIT_BURST, AUDIT_RATE = 500, 50
SUPPRESSED = re.compile(r"ukernel: (\d+) (output|audit) lines? of this task suppressed")


def flags():
    return () if host_can_confine() is None else ("--insecure-no-sandbox",)


def test_a_flood_is_bounded_and_every_dropped_line_is_counted(tmp_path):
    run = run_app(make_app(tmp_path / "flood", MAIN), *flags())
    assert run.status == 0, run.explain()
    main = [l for l in run.lines if l["task"] == "main"]
    logs = [l for l in main if l["msg"].startswith("flood log ")]
    outs = [l for l in main if l["msg"].startswith("flood out ")]
    denials = [l for l in main if l.get("event") == "cap.denied"]
    suppressed = {"output": 0, "audit": 0}
    for l in run.events("console.suppressed"):
        m = SUPPRESSED.search(l["msg"])
        assert m and l["task"] == "main", l
        suppressed[m[2]] += int(m[1])
    # nothing silently lost: what was shown plus what was reported suppressed is what was sent
    assert len(logs) + len(outs) + suppressed["output"] == 2 * N, (len(logs), len(outs), suppressed)
    assert len(denials) + suppressed["audit"] == N, (len(denials), suppressed)
    # bounded by the budget over the flood's duration, measured by the kernel's own clock
    span = main[-1]["t"] - main[0]["t"]
    assert len(logs) + len(outs) <= OUTPUT_BURST + OUTPUT_RATE * span + 1, (len(logs), len(outs), span)
    assert len(denials) <= AUDIT_BURST + AUDIT_RATE * span + 1, (len(denials), span)
    assert suppressed["output"] > 0 and suppressed["audit"] > 0
    # one report per second at most, per kind
    reports = run.events("console.suppressed")
    assert len(reports) <= 2 * (span + 2), (len(reports), span)
    # the kernel's own lines are not drowned
    assert run.events("task.exit") and run.events("kernel.exit"), run.explain()
