"""OCI image benchmark (issue 14): what `ukernel pack --oci` makes and how fast the image starts under runc.

1. Layers: the compressed (blob) and uncompressed (tar) size of each layer of examples/hello's image.
2. A one-line code change: wall time of `ukernel pack --oci` after appending a comment to src/main.py, against a full
   pack (`--no-layer-cache`, every layer compressed) and
   the floor of a repack with nothing changed (same command, same caches), and the bytes of blobs the changed
   image has that the old one has not (what a registry push or a node's pull moves), against the image's total.
3. Start to first heartbeat, same run, interleaved, median of N: `runc run` of the image (a bundle unpacked once
   by umoci, runc spec's config adjusted, no network) against `./ukernel run` on the process platform, and both
   against the bare-python3 floor of bench/startup.py. The clock runs from just before the process is spawned to
   the arrival of the `heartbeat 1` line on its stdout.

Needs root, runc and umoci for part 3 (skipped, saying so, without them). Prints a report; the figures go in
bench/oci-RESULTS.md by hand.
"""

import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import startup  # noqa: E402
from machine import busy_note  # noqa: E402

ROOT = startup.ROOT
RUNS = int(os.environ.get("OCI_BENCH_RUNS", "5"))


def sh(cmd, cwd=None, check=True):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and p.returncode != 0:
        raise SystemExit("%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stdout))
    return p.stdout


def manifest(layout):
    with open(os.path.join(layout, "index.json")) as f:
        digest = json.load(f)["manifests"][0]["digest"]
    with open(os.path.join(layout, "blobs/sha256", digest[7:])) as f:
        return json.load(f)


def blob(layout, digest):
    return os.path.join(layout, "blobs/sha256", digest[7:])


def pack(app, *extra):
    t0 = time.perf_counter()
    sh([os.path.join(ROOT, "ukernel"), "pack", "--oci", "-q", *extra], cwd=app)
    return time.perf_counter() - t0


def mib(n):
    return "%.1f MiB" % (n / 1048576) if n >= 1048576 else "%.1f KiB" % (n / 1024)


def main():
    print(busy_note())
    work = tempfile.mkdtemp(prefix="ukernel-oci-bench-")
    try:
        app = os.path.join(work, "hello")
        shutil.copytree(os.path.join(ROOT, "examples/hello"), app,
                        ignore=shutil.ignore_patterns("build", "dist", "logs"))
        layout = os.path.join(app, "dist/hello.oci")
        pack(app)  # warm-up: builds the bundle, fills the runtime and strip caches
        names = ["java runtime", "python + libraries", "kernel", "dependencies", "app"]
        m = manifest(layout)
        print("\n1. layers of examples/hello (%s)" % m["config"]["digest"][:19])
        total_c = total_u = 0
        for name, layer in zip(names, m["layers"]):
            with gzip.open(blob(layout, layer["digest"])) as g:
                u = 0
                while chunk := g.read(1 << 20):
                    u += len(chunk)
            total_c += layer["size"]
            total_u += u
            print("   %-20s %12s compressed %12s tar" % (name, mib(layer["size"]), mib(u)))
        print("   %-20s %12s compressed %12s tar" % ("total", mib(total_c), mib(total_u)))

        print("\n2. one-line code change, %d rounds" % RUNS)
        same, changed, moved, full = [], [], [], []
        main_py = os.path.join(app, "src/main.py")
        for i in range(RUNS):
            full.append(pack(app, "--no-layer-cache"))
            before = {l["digest"] for l in manifest(layout)["layers"]} | {manifest(layout)["config"]["digest"]}
            same.append(pack(app))
            with open(main_py, "a") as f:
                f.write("# change %d\n" % i)
            changed.append(pack(app))
            after = manifest(layout)
            new = [d for d in [l["digest"] for l in after["layers"]] + [after["config"]["digest"]] if d not in before]
            moved.append(sum(os.path.getsize(blob(layout, d)) for d in new))
        print("   full pack, every layer compressed (--no-layer-cache): median %.2f s" % statistics.median(full))
        print("   repack, nothing changed (floor: fixed costs):         median %.2f s" % statistics.median(same))
        print("   repack after a one-line change:                       median %.2f s  (%.2fx the floor, %.2fx the "
              "full pack)" % (statistics.median(changed), statistics.median(changed) / statistics.median(same),
                              statistics.median(changed) / statistics.median(full)))
        print("   new blobs after the change: %s of %s (%.4f%% of the image; the app layer and the config)"
              % (mib(statistics.median(moved)), mib(total_c), 100.0 * statistics.median(moved) / total_c))

        print("\n3. start -> first heartbeat, %d interleaved runs" % RUNS)
        if os.geteuid() != 0 or not shutil.which("runc") or not shutil.which("umoci"):
            print("   skipped: needs root, runc and umoci")
            return
        bundle = os.path.join(work, "bundle")
        sh(["umoci", "unpack", "--image", layout + ":latest", bundle])
        os.remove(os.path.join(bundle, "config.json"))
        sh(["runc", "spec"], cwd=bundle)
        with open(os.path.join(bundle, "config.json")) as f:
            spec = json.load(f)
        cfg = json.load(open(blob(layout, manifest(layout)["config"]["digest"])))["config"]
        proc = spec["process"]
        proc.update(terminal=False, args=cfg["Entrypoint"] + cfg["Cmd"], cwd=cfg["WorkingDir"],
                    env=cfg["Env"] + ["HEARTBEATS=1"])
        uid, gid = cfg["User"].split(":")
        proc["user"] = {"uid": int(uid), "gid": int(gid)}
        spec["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid", "nodev", "mode=1777"]})
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        floor_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        floor_env.update(PYTHONPATH=startup.FLOOR_DIR + os.pathsep + startup.HELLO_SRC, HEARTBEATS="1")
        py = startup.python_exe()[1]
        cmds = {
            "runc run (container platform)": None,
            "./ukernel run (process platform)": ["./ukernel", "run", app, "-e", "HEARTBEATS=1"],
            "floor: python3": [py, "-B", "-c", startup.FLOOR_CODE],
        }
        times = {k: [] for k in cmds}
        for i in range(RUNS + 1):
            for name, cmd in cmds.items():
                cid = "ukernel-bench-%d-%d" % (os.getpid(), i)
                if cmd is None:
                    run_cmd = ["runc", "run", "--bundle", bundle, cid]
                else:
                    run_cmd = cmd
                try:
                    r = startup.check(startup.timed_run(run_cmd, floor_env if name.startswith("floor") else None),
                                      name)
                finally:
                    if cmd is None:
                        subprocess.run(["runc", "delete", "--force", cid], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
                if i > 0:  # the first round is a warm-up
                    times[name].append(r.heartbeat)
        fl = statistics.median(times["floor: python3"])
        for name, t in times.items():
            print("   %-34s median %7.1f ms  min %7.1f ms  (%.2fx python3)"
                  % (name, 1000 * statistics.median(t), 1000 * min(t), statistics.median(t) / fl))
        print("   runc / process platform: %.2fx (median)"
              % (statistics.median(times["runc run (container platform)"])
                 / statistics.median(times["./ukernel run (process platform)"])))
        print(busy_note())
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
