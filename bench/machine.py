"""What the benchmarks print about the machine: its description, and whether something else is using the CPUs.

    python3 bench/machine.py     prints the description (for RESULTS.md) and how busy the CPUs are now
"""

import os
import platform
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_busy(seconds=0.5):
    """The share of CPU time (0..1, all CPUs) spent outside idle over the next `seconds`."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def busy_note():
    """A warning line when other work is using the CPUs (these are 2-CPU machines: it would skew the figures)."""
    busy = cpu_busy()
    if busy > 0.15:
        return ("WARNING: the CPUs are %.0f%% busy before the benchmark starts (load %s): other work will skew "
                "the figures; rerun when the machine is idle" % (busy * 100, open("/proc/loadavg").read().split()[0]))
    return None


def describe():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    java = subprocess.run(["bash", "-c", 'source scripts/lib/jdk.sh && uk_select_jdk && "$JAVA_HOME/bin/java" '
                           '-version 2>&1 | head -1'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    py = subprocess.run(["python3", "-c", "import sys; print(sys.version.split()[0], sys.executable)"],
                        capture_output=True, text=True).stdout.strip()
    return [
        "date:    %s" % time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpus:    %d (nproc), %s" % (os.cpu_count(), model),
        "kernel:  %s %s" % (platform.system(), platform.release()),
        "java:    %s" % java,
        "python:  %s" % py,
        "commit:  %s" % subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=ROOT, capture_output=True,
                                       text=True).stdout.strip()[:100],
    ]


if __name__ == "__main__":
    print("\n".join(describe()))
    print("busy:    %.0f%% of the CPUs in the last 0.5 s" % (cpu_busy() * 100))
