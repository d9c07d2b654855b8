"""microVM boot benchmark (issue 6): how long QEMU -M microvm takes to boot the ukernel image, against the floor.

    python3 bench/microvm.py [-n RUNS] [--no-gzip]        (or bench/microvm.sh)

Every figure is host wall time, from just before QEMU is spawned to the moment the serial-console line is read
(QEMU's stdout is read as it streams), median of RUNS (default 3) after one warm-up:

floor       the same QEMU command line and guest kernel with a 300-byte static /init that prints one line and powers
            off (io.ukernel.vmm.image.TinyInitrd): the cost of QEMU plus Linux to user space, nothing of ours.
ukernel     examples/hello packed by `ukernel pack` (uncompressed cpio, the default, and gzip'd), booted with the
            command line `ukernel run --vmm qemu` uses; "first line" is the kernel's first console line (the init's
            "microvm:" line, printed once the JVM is up and the mounts are done), "heartbeat" the worker's first.
run         `./ukernel run --vmm qemu examples/hello -e HEARTBEATS=1` end to end (CLI start, staleness checks,
            QEMU, guest), to the heartbeat line and to the process's exit (VM powered off).
snapshot    (issue 16; --snapshot-only runs just this) `ukernel pack --snapshot`, then `ukernel run --vmm qemu
            -e HEARTBEATS=1` restored from it and `--no-snapshot` (cold boot), alternated, RUNS each after one warm-up
            pair: host wall time to the first heartbeat and to exit, and the ratio restored / cold of the same run.
            The snapshot's size against the guest's memory (512 MiB), raw and as `zstd -1` would store it.

The guest prints its own uptime at each milestone ("JVM main at", "mounts done", "console up"), which splits the
boot into phases (printed under "where the time goes"). Sizes come from pack's own table.

KVM does not run guests on the machines this was written on, so QEMU runs under TCG (software emulation);
UKERNEL_ACCEL=kvm on a KVM host measures that instead.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from machine import busy_note, describe

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JAVA = os.path.join(os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"), "bin", "java")
FLOOR_MARK = "ukernel-floor: init ran"


def tsc_khz():
    with open("/proc/cpuinfo") as f:
        info = f.read()
    if "constant_tsc" not in info:
        return 0
    m = re.search(r"^bogomips\s*:\s*([\d.]+)", info, re.M)
    return round(float(m.group(1)) * 500) if m else 0


def qemu_cmd(kernel, initrd, params):
    accel = os.environ.get("UKERNEL_ACCEL", "tcg")
    append = "console=ttyS0 quiet loglevel=1 pci=off i8042.noaux i8042.nomux i8042.dumbkbd panic=-1"
    if accel == "tcg" and tsc_khz():
        append += " tsc_early_khz=%d" % tsc_khz()
    return ["qemu-system-x86_64", "-M", "microvm", "-accel", accel, "-cpu", "host" if accel == "kvm" else "max",
            "-smp", "1", "-m", "512M", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-device", "i8042", "-kernel", kernel, "-initrd", initrd,
            "-append", (append + " " + params).strip()]


def timed(cmd, marks, timeout=180, env=None):
    """Runs cmd; returns ({mark: seconds to the first line containing it}, lines, seconds to exit)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    seen, lines = {}, []
    for raw in p.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        for m in marks:
            if m not in seen and m in line:
                seen[m] = time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            p.kill()
            break
    p.wait()
    return seen, lines, time.monotonic() - t0


def phases(lines):
    for line in lines:
        m = re.search(r"microvm: JVM main at ([\d.]+) s, mounts done ([\d.]+) s, console up ([\d.]+) s", line)
        if m:
            return tuple(float(x) for x in m.groups())
    return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def ukernel(*args, env=None):
    return subprocess.run([os.path.join(ROOT, "ukernel")] + list(args), capture_output=True, text=True, env=env)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=3)
    ap.add_argument("--no-gzip", action="store_true", help="skip the gzip'd image")
    ap.add_argument("--snapshot-only", action="store_true", help="only the snapshot restore vs cold boot figures")
    a = ap.parse_args()
    if not shutil.which("qemu-system-x86_64"):
        sys.exit("bench/microvm.py: qemu-system-x86_64 is not installed")
    note = busy_note()
    work = tempfile.mkdtemp(prefix="ukernel-microvm-bench-")
    app = os.path.join(work, "hello")
    shutil.copytree(os.path.join(ROOT, "examples/hello"), app,
                    ignore=shutil.ignore_patterns("build", "dist", "logs"))
    print("machine: %s" % describe())
    if note:
        print(note)

    if a.snapshot_only:
        snapshot_bench(app, a.runs)
        shutil.rmtree(work, ignore_errors=True)
        return

    sizes = {}
    for kind in (["none"] if a.no_gzip else ["gzip", "none"]):
        r = ukernel("pack", app, "--compress", kind, "--no-firecracker")
        if r.returncode != 0:
            sys.exit("pack failed:\n" + r.stdout + r.stderr)
        sizes[kind] = r.stdout
        shutil.copy(os.path.join(app, "dist/hello.img"), os.path.join(work, "hello-%s.img" % kind))
    kernel = os.path.join(app, "dist/hello.vmlinuz")
    floor = os.path.join(work, "floor.cpio")
    cp = ":".join([os.path.join(ROOT, "vmm/target/classes")])
    subprocess.run([JAVA, "-cp", cp, "io.ukernel.vmm.image.TinyInitrd", floor, FLOOR_MARK], check=True)

    env_b64 = "SEVBUlRCRUFUUz0x"  # base64url("HEARTBEATS=1")
    params = "ukernel.env=%s ukernel.grace=5000 ukernel.halt=poweroff" % env_b64
    rows = []
    runs = {"floor": [], "none": [], "gzip": []}
    for label in ["floor"] + list(sizes):
        cmd = qemu_cmd(kernel, floor, "") if label == "floor" else \
            qemu_cmd(kernel, os.path.join(work, "hello-%s.img" % label), params)
        marks = [FLOOR_MARK] if label == "floor" else ["kernel#0", "heartbeat 1"]
        for i in range(a.runs + 1):
            seen, lines, total = timed(cmd, marks)
            if i == 0:
                continue  # warm-up: page cache
            runs[label].append((seen, total, phases(lines)))

    run_end = []
    for i in range(a.runs + 1):
        seen, lines, total = timed([os.path.join(ROOT, "ukernel"), "run", "--vmm", "qemu", app, "-e", "HEARTBEATS=1"],
                                   ["heartbeat 1"])
        if i and "heartbeat 1" in seen:
            run_end.append((seen["heartbeat 1"], total))

    fl = med(s.get(FLOOR_MARK) for s, _, _ in runs["floor"])
    print()
    print("| boot under QEMU microvm (%s), median of %d | first console line | first heartbeat | VM exit |"
          % (os.environ.get("UKERNEL_ACCEL", "tcg").upper(), a.runs))
    print("|---|---|---|---|")
    print("| floor: same kernel, one-line static init | %.2f s | — | %.2f s |"
          % (fl, med(t for _, t, _ in runs["floor"])))
    for kind in sizes:
        first = med(s.get("kernel#0") for s, _, _ in runs[kind])
        beat = med(s.get("heartbeat 1") for s, _, _ in runs[kind])
        print("| ukernel image (%s), kernel as PID 1 | %.2f s (%.1fx floor) | %.2f s | %.2f s |"
              % ("uncompressed" if kind == "none" else "gzip", first, first / fl, beat,
                 med(t for _, t, _ in runs[kind])))
    if run_end:
        print("| `ukernel run --vmm qemu` end to end | — | %.2f s | %.2f s |"
              % (med(b for b, _ in run_end), med(t for _, t in run_end)))
    print()
    print("where the time goes (guest uptime, uncompressed image, median): JVM main at %.2f s, mounts (FFM) done "
          "%.2f s, console up %.2f s" % tuple(med(p[i] for _, _, p in runs["none"] if p) for i in range(3)))
    for kind, table in sizes.items():
        print()
        print("pack --compress %s:" % kind)
        print(table.rstrip())
    snapshot_bench(app, a.runs)
    shutil.rmtree(work, ignore_errors=True)


def compressed_size(path):
    """Bytes of `zstd -1` of path (None without zstd)."""
    if not shutil.which("zstd"):
        return None
    p = subprocess.Popen(["zstd", "-1", "-T0", "-q", "-c", path], stdout=subprocess.PIPE)
    n = 0
    for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
        n += len(chunk)
    p.wait()
    return n


def snapshot_bench(app, runs):
    t0 = time.monotonic()
    r = ukernel("pack", app, "--snapshot", "--no-firecracker", "-q")
    made = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit("pack --snapshot failed:\n" + r.stdout + r.stderr)
    snap = os.path.join(app, "dist/hello.snap")
    raw = os.path.getsize(snap)
    zst = compressed_size(snap)
    mem = 512 << 20
    cmd = [os.path.join(ROOT, "ukernel"), "run", "--vmm", "qemu", app, "-e", "HEARTBEATS=1"]
    res = {"restored": [], "cold": []}
    for i in range(runs + 1):
        for label in ("restored", "cold"):
            seen, lines, total = timed(cmd + (["--no-snapshot"] if label == "cold" else []),
                                       ["heartbeat 1", "restored from a snapshot"])
            if "heartbeat 1" not in seen:
                sys.exit("%s run failed:\n%s" % (label, "\n".join(lines[-20:])))
            if (label == "restored") != ("restored from a snapshot" in seen):
                sys.exit("%s run did not %s:\n%s" % (label, "restore" if label == "restored" else "boot cold",
                                                      "\n".join(lines[-20:])))
            if i:
                res[label].append((seen["heartbeat 1"], total))
    rb, rt = med(b for b, _ in res["restored"]), med(t for _, t in res["restored"])
    cb, ct = med(b for b, _ in res["cold"]), med(t for _, t in res["cold"])
    print()
    print("| `ukernel run --vmm qemu` (%s), alternated, median of %d | first heartbeat | exit |"
          % (os.environ.get("UKERNEL_ACCEL", "tcg").upper(), runs))
    print("|---|---|---|")
    print("| cold boot (`--no-snapshot`) | %.2f s | %.2f s |" % (cb, ct))
    print("| restored from `pack --snapshot` | %.2f s | %.2f s |" % (rb, rt))
    print("| **ratio restored / cold** | **%.2fx** | %.2fx |" % (rb / cb, rt / ct))
    print()
    print("snapshot: made in %.1f s (pack --snapshot, image already packed); %.1f MiB raw = %.2fx of the guest's "
          "%d MiB%s" % (made, raw / 2**20, raw / mem, mem >> 20,
                         "" if zst is None else "; zstd -1: %.1f MiB = %.2fx" % (zst / 2**20, zst / mem)))


if __name__ == "__main__":
    main()
