"""Attack class: exhausting the kernel. A task at its limits must neither exhaust the kernel (memory, descriptors)
nor stop it from serving another task. Each attack runs in a spawned ``attacker`` task through a real kernel, while
the main task is a bystander that keeps making round trips through the kernel (channel pings, and a file opened and
closed each round). Each attacker does its worst, prints ``attack: done: ...`` on stdout and holds what it got
until the test sends it SIGUSR1; meanwhile the test waits for the bystander to answer again, then reads the
kernel JVM's peak resident memory (VmHWM) and its open descriptors from /proc, and asserts them bounded.

Every attack is sized so that, without its bound, the kernel would hold far more than the bound the test asserts
(the sizes are in each test), and the attacker reports how far it got, which the test checks against the limit:
the attack is real, the bound is what stopped it. Timing is never asserted: bench/exhaustion.py measures how much
the bystander's round trip grows under each attack.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from _harness import LAUNCHER, TIMEOUT, children_of, host_can_confine, make_app, text

# The kernel JVM idles well under 200 MiB; each attack would take it past 1.5 GiB without its bound.
RSS_BOUND = 1 << 30
# Descriptors the kernel itself uses are a few dozen; the handle attack would hold 5 000 without its bound.
FD_BOUND = 1000
WAIT = 180  # seconds: bounds a hang only (the first run may build the CLI)

MANIFEST = """\
name = "exhaust"
entry = "src/main.py"

[caps]
grant = ["LOG", "TIME", "TASK", "IPC", "IO", "NET"]

[caps.io]
data = {{ path = "data", mode = "ro" }}

[caps.net]
connect = ["127.0.0.1:*"]
bind = ["127.0.0.1:*"]

[limits]
{limits}

[[task]]
name = "attacker"
entry = "src/attacker.py"
"""

BYSTANDER = """\
import ukernel

def main():
    ukernel.cap_acquire("LOG", "TIME", "TASK", "IPC", "IO", "NET")
    attacker = ukernel.task_spawn("attacker", ["LOG", "TIME", "IPC", "IO", "NET"])
    p, q = ukernel.ipc_channel_create()
    rounds = 0
    while not ukernel.poll([(attacker, ukernel.EV_READABLE)], 0.02):
        for _ in range(50):
            ukernel.ipc_send(p, b"ping")
            ukernel.ipc_recv(q)
        ukernel.io_close(ukernel.io_open("data", "blob"))
        rounds += 1
        if rounds % 5 == 0:
            ukernel.info("bystander: %d pings answered" % (50 * rounds))
    state, code = ukernel.task_status(attacker)
    ukernel.info("bystander: attacker ended with status %d after %d pings" % (code, 50 * rounds))
    return code
"""

# Shared by every attacker: report on stdout (the pipelining attacker's kernel connection is jammed on purpose),
# then hold everything until the test says so.
PRELUDE = """\
import os, signal, sys
import ukernel
from ukernel import _abi, _wire

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})

def report(msg):
    print("attack: " + msg, flush=True)

def hold():
    signal.sigwait({signal.SIGUSR1})
"""


def run_attack(tmp_path, attacker, limits="", env=()):
    """Runs the attack app; returns ``(console lines, kernel exit status, samples)`` where samples hold the
    kernel's VmHWM/VmRSS (bytes) and open descriptor count read while the attacker held its gains and after the
    bystander answered again."""
    app = make_app(tmp_path / "app", BYSTANDER, manifest=MANIFEST.format(limits=limits),
                   files={"src/attacker.py": PRELUDE + attacker})
    (app / "data").mkdir()
    (app / "data" / "blob").write_bytes(b"\x5a" * (1 << 20))
    args = [LAUNCHER, "run", str(app), "-q", "--log-format", "json"]
    if host_can_confine() is not None:
        args.append("--insecure-no-sandbox")  # the bounds are the kernel's; confinement is not under test here
    for kv in env:
        args += ["-e", kv]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=str(app))
    console = Console(app / "logs" / "console.log")
    samples = {}
    try:
        done = console.wait(lambda l: text(l).startswith("attack: done"), proc)
        # The bystander answers again while the attacker holds everything it could get.
        console.wait(lambda l: l is not done and console.after(done, l) and text(l).startswith("bystander: "), proc)
        samples = kernel_usage(proc.pid)
        start = console.wait(lambda l: re.search(r"task attacker#\d+ started: pid \d+", text(l)), proc)
        started = int(re.search(r"pid (\d+)", text(start)).group(1))
        # With namespaces the kernel's process is the jail's supervisor; the attacker's code runs in its only child.
        worker = (children_of(started) or [started])[0]
        os.kill(worker, signal.SIGUSR1)
        proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out, err = proc.communicate()
    lines = console.read()
    return lines, proc.returncode, samples, err


def kernel_usage(pid):
    status = Path("/proc/%d/status" % pid).read_text()
    kib = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmHWM|VmRSS):\s+(.*)$", status, re.M)}
    return {"hwm": kib["VmHWM"] * 1024, "rss": kib["VmRSS"] * 1024,
            "fds": len(os.listdir("/proc/%d/fd" % pid))}


class Console:
    """The JSON console log, read as it grows."""

    def __init__(self, path):
        self.path = path
        self.lines = []
        self._pos = 0

    def read(self):
        if self.path.exists():
            with open(self.path, "rb") as f:
                f.seek(self._pos)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1
            self._pos += end
            for raw in chunk[:end].decode("utf-8", "replace").splitlines():
                if raw.startswith("{"):
                    try:
                        self.lines.append(json.loads(raw))
                    except ValueError:
                        pass
        return self.lines

    def after(self, first, line):
        return self.lines.index(line) > self.lines.index(first)

    def wait(self, pred, proc):
        deadline = time.monotonic() + WAIT
        while True:
            for l in self.read():
                if pred(l):
                    return l
            if proc.poll() is not None:
                self.read()
                raise AssertionError("the kernel ended (status %s) before the awaited line; console:\n%s\n%s" % (
                    proc.returncode, "\n".join(describe(l) for l in self.lines[-60:]), proc.stderr.read()[-3000:]))
            assert time.monotonic() < deadline, "no awaited line; console:\n" + "\n".join(
                describe(l) for l in self.lines[-60:])
            time.sleep(0.05)  # polling a file that grows; the wait ends on the line itself


def describe(l):
    return "%s %s %s %s" % (l.get("task"), l.get("level"), l.get("event") or "-", text(l)[:300])


def attack_lines(lines):
    return [text(l) for l in lines if text(l).startswith("attack: ")]


def assert_kernel_fine(lines, status, samples, err):
    print("kernel usage:", {k: (v >> 20 if k != "fds" else v) for k, v in samples.items()})
    explain = "\n".join(describe(l) for l in lines[-80:]) + "\n" + err[-3000:]
    assert samples, explain
    assert samples["hwm"] < RSS_BOUND, "kernel peak RSS %d MiB\n%s" % (samples["hwm"] >> 20, explain)
    ended = [text(l) for l in lines if text(l).startswith("bystander: attacker ended")]
    assert ended, explain
    assert status == 0, "kernel status %s\n%s" % (status, explain)


PIPELINE = """\
def main():
    ukernel.cap_acquire("IO", "LOG")
    f = ukernel.io_open("data", "blob")
    sock = ukernel.client()._sock
    n = int(os.environ["PAIRS"])
    seek, read = _abi.CALLS["io_seek"][0], _abi.CALLS["io_read"][0]
    frames = []
    for i in range(n):
        frames.append(_wire.encode_request(1_000_000 + 2 * i, seek, (f, 0, 0)))
        frames.append(_wire.encode_request(1_000_001 + 2 * i, read, (f, 1 << 20)))
    import threading
    writer = threading.Thread(target=sock.sendall, args=(b"".join(frames),), daemon=True)
    writer.start()
    report("done: %d pipelined requests asking for %d MiB of replies, none read yet" % (2 * n, n))
    hold()
    got, data, buf = 0, 0, bytearray()
    while got < 2 * n:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 4:
            size = 4 + int.from_bytes(buf[:4], "little")
            if len(buf) < size:
                break
            if int.from_bytes(buf[8:10], "little") == 0:
                data += size
            del buf[:size]
            got += 1
    writer.join()
    report("drained: %d of %d replies (%d MiB)" % (got, 2 * n, data >> 20))
    return 0 if got == 2 * n else 3
"""


def test_pipelined_requests_whose_replies_are_never_read(tmp_path):
    pairs = 1500  # 1.5 GiB of replies: without back-pressure the kernel buffers them all (it reached 5.7 GB)
    lines, status, samples, err = run_attack(tmp_path, PIPELINE, env=["PAIRS=%d" % pairs])
    assert_kernel_fine(lines, status, samples, err)
    stalled = [l for l in lines if l.get("event") == "abi.stalled"]
    assert stalled and stalled[0]["task"].startswith("attacker"), "the kernel must stop serving the attacker"
    # Back-pressure loses nothing: once the attacker reads, every reply arrives.
    assert "attack: drained: %d of %d replies (%d MiB)" % (2 * pairs, 2 * pairs, pairs) in attack_lines(lines)


HANDLES = """\
def main():
    ukernel.cap_acquire("IO", "IPC", "LOG")
    a, b = ukernel.ipc_channel_create()
    parked, outcome = 0, "no limit"
    try:
        for i in range(5000):
            if os.environ.get("NESTED"):
                # a channel end carrying files, itself parked in a's queue
                x0, x1 = ukernel.ipc_channel_create()
                ukernel.ipc_send(x0, b"", [ukernel.io_open("data", "blob")])
                ukernel.ipc_send(a, b"", [x1])
                ukernel.ipc_close(x0)
            else:
                ukernel.ipc_send(a, b"", [ukernel.io_open("data", "blob")])
            parked += 1
    except ukernel.LimitError as e:
        outcome = "ERR_LIMIT"
    report("done: parked %d open files in channel queues, then %s" % (parked, outcome))
    hold()
    return 0
"""


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_handles_parked_in_channel_queues(tmp_path, nested):
    # 5 000 files (10 000 objects nested) without the bound; limits.handles = 64 holds them to 64 in all.
    lines, status, samples, err = run_attack(tmp_path, HANDLES, limits="handles = 64",
                                             env=["NESTED=1"] if nested else [])
    assert_kernel_fine(lines, status, samples, err)
    done = [t for t in attack_lines(lines) if t.startswith("attack: done")][0]
    parked, outcome = re.match(r"attack: done: parked (\d+) .*, then (.*)", done).groups()
    assert outcome == "ERR_LIMIT", done
    assert int(parked) <= (31 if nested else 62), done
    assert samples["fds"] < FD_BOUND, "the kernel holds %d descriptors" % samples["fds"]
    reason = [text(l) for l in lines if "sent in messages not yet received, of limits.handles=64" in text(l)]
    assert reason, "the ERR_LIMIT reason names the limit"


MOVED_BYTES = """\
def main():
    ukernel.cap_acquire("IPC", "LOG")
    a, b = ukernel.ipc_channel_create()
    blob = bytes(65536)
    parked, outcome = 0, "no limit"
    try:
        for i in range(1500):
            x0, x1 = ukernel.ipc_channel_create()
            while True:
                try:
                    ukernel.ipc_send(x0, blob)
                except ukernel.WouldBlockError:
                    break
            ukernel.ipc_send(a, b"", [x1])  # the full queue leaves with its receiving end
            ukernel.ipc_close(x0)
            parked += 1
    except ukernel.LimitError:
        outcome = "ERR_LIMIT"
    report("done: parked %d full 1 MiB queues behind moved ends, then %s" % (parked, outcome))
    hold()
    return 0
"""


def test_bytes_queued_behind_moved_channel_ends(tmp_path):
    # 1 500 MiB without the bound (it reached 1.5 GiB); limits.queued_bytes (16 MiB by default) stops it.
    lines, status, samples, err = run_attack(tmp_path, MOVED_BYTES)
    assert_kernel_fine(lines, status, samples, err)
    done = [t for t in attack_lines(lines) if t.startswith("attack: done")][0]
    parked, outcome = re.match(r"attack: done: parked (\d+) .*, then (.*)", done).groups()
    assert outcome == "ERR_LIMIT" and int(parked) <= 16, done
    assert [l for l in lines if "exceed limits.queued_bytes=16777216" in text(l)], "the reason names the limit"


POLLS = """\
def main():
    ukernel.cap_acquire("IPC", "LOG")
    a, b = ukernel.ipc_channel_create()
    c = ukernel.client()
    from ukernel._calls import spec
    flat = [b, ukernel.EV_READABLE] * _abi.MAX_POLL_ITEMS
    seqs = c.submit([(spec("io_poll"), (flat, -1))] * 300)
    for _ in range(2000):  # every flip of b's signals used to rescan every parked item
        ukernel.ipc_send(a, b"x")
        ukernel.ipc_recv(b)
    statuses = [r[1] for r in c.collect_all(seqs)]
    report("done: 300 polls naming one handle %d times: %d answered, %d ERR_LIMIT"
           % (_abi.MAX_POLL_ITEMS, statuses.count(0), statuses.count(_abi.ERR_LIMIT)))
    hold()
    return 0
"""


def test_parked_polls_naming_one_handle_many_times(tmp_path):
    lines, status, samples, err = run_attack(tmp_path, POLLS)
    assert_kernel_fine(lines, status, samples, err)
    done = [t for t in attack_lines(lines) if t.startswith("attack: done")][0]
    answered, limited = map(int, re.search(r"(\d+) answered, (\d+) ERR_LIMIT", done).groups())
    assert (answered, limited) == (64, 300 - 64), done


ENDLESS_LINE = """\
def main():
    chunk = b"x" * (1 << 20)
    for _ in range(int(os.environ["MIB"])):
        sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.write(b"\\n")
    report("done: printed one line of %s MiB" % os.environ["MIB"])
    hold()
    return 0
"""


def test_endless_stdout_line(tmp_path):
    mib = 768  # a line read whole would take the kernel past 1.5 GiB (it reached its 4 GB heap and died)
    lines, status, samples, err = run_attack(tmp_path, ENDLESS_LINE, env=["MIB=%d" % mib])
    assert_kernel_fine(lines, status, samples, err)
    cut = [text(l) for l in lines if l.get("task", "").startswith("attacker") and text(l).startswith("xxxx")]
    assert len(cut) == 1, [c[:80] for c in cut]
    assert cut[0].startswith("x" * 16384 + " … (%d bytes cut" % ((mib << 20) - 16384)), cut[0][16384:16500]


SOCKETS = """\
def main():
    ukernel.cap_acquire("NET", "LOG")
    lis = ukernel.net_socket()
    ukernel.net_bind(lis, "127.0.0.1", 0)
    ukernel.net_listen(lis, 64)
    port = ukernel.net_addr(lis)[1]
    chunk = bytes(1 << 20)
    sent, refused_fresh, made = 0, None, 0
    for i in range(int(os.environ["SOCKETS"])):
        c = ukernel.net_socket()
        try:
            ukernel.net_connect(c, "127.0.0.1", port)
        except BlockingIOError:
            pass
        ukernel.poll([(lis, ukernel.EV_READABLE)], 10)
        ukernel.net_accept(lis)  # the other end: never read
        ukernel.poll([(c, ukernel.EV_WRITABLE)], 1)
        made += 1
        first = True
        while True:
            try:
                k = ukernel.net_send(c, chunk)
            except BlockingIOError:
                k = 0
            if k == 0:
                break
            sent += k
            first = False
        ukernel.net_close(c)  # its unsent bytes linger, still to be flushed
        if first:
            refused_fresh = i
            break
    report("done: %d connections, %d MiB taken by the kernel, a fresh socket refused at %s"
           % (made, sent >> 20, refused_fresh))
    hold()
    return 0
"""


def test_socket_buffers_of_many_unread_connections(tmp_path):
    # 400 pairs of a 4 MiB send queue and a 4 MiB receive queue: 3.2 GB without a per-task bound. With
    # limits.net_bytes (64 MiB by default) a fresh socket of the attacker takes nothing once its sockets hold it.
    lines, status, samples, err = run_attack(tmp_path, SOCKETS, env=["SOCKETS=400"])
    assert_kernel_fine(lines, status, samples, err)
    done = [t for t in attack_lines(lines) if t.startswith("attack: done")][0]
    made, refused = re.search(r"done: (\d+) connections, .* refused at (\S+)", done).groups()
    assert refused != "None" and int(made) < 400, done
