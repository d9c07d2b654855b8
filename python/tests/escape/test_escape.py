"""The escape suite, end to end: a real kernel (``<repo>/ukernel run``), a real worker, real attempts.

The app in ``app/`` tries every way out of a worker (docs/confinement.md lists them) and reports each outcome on
the console. It runs twice:

* with ``--insecure-no-sandbox``: the host-level attempts must SUCCEED (proof that the suite tests something),
  the ABI-level ones are still denied by the kernel;
* with the default strict sandbox: every attempt must be denied with the expected error, the kernel must keep
  serving (the app logs through the ABI after the attempts and exits 0), and every attempt must be in the console:
  an audit event for the ABI-level ones, the worker's ``ukernel: refused ...`` stderr line for the host-level ones.

The test runs a TCP server on loopback for the "connect straight to the host" attempt and counts what reaches it.
Needs Linux with Landlock and seccomp (the strict run is skipped, with the reason, on a host without them).
"""

import ctypes
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
LAUNCHER = os.environ.get("UKERNEL_E2E_LAUNCHER") or str(REPO / "ukernel")
TIMEOUT = 900  # the first run may build the CLI


def host_can_confine():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        abi = libc.syscall(ctypes.c_long(444), None, ctypes.c_long(0), ctypes.c_long(1))
    except Exception:
        return "cannot ask for the Landlock ABI"
    if abi < 1:
        return "the host has no Landlock"
    if os.uname().machine != "x86_64":
        return "the seccomp filter is built for x86_64 only"
    return None


def namespaces_expected():
    """Whether workers get their own namespaces here: the kernel (run by this test's user) is root, or the host
    allows unprivileged user namespaces (the same sysctls ``HostSandbox`` reads)."""
    if os.geteuid() == 0:
        return True

    def sysctl(name):
        try:
            with open("/proc/sys/" + name) as f:
                return f.read().strip()
        except OSError:
            return None

    return (sysctl("user/max_user_namespaces") != "0" and sysctl("kernel/unprivileged_userns_clone") != "0"
            and sysctl("kernel/apparmor_restrict_unprivileged_userns") != "1")


class Server:
    """A TCP listener on loopback that records what reached it. Nothing accepts while the app runs (the host
    completes connections into the backlog by itself); ``close`` then takes every pending connection and reads it
    to its end, so a connection the app made is counted however the threads were scheduled."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.port = self.sock.getsockname()[1]
        self.received = []

    def close(self):
        self.sock.setblocking(False)
        try:
            while True:
                try:
                    conn, _ = self.sock.accept()
                except BlockingIOError:
                    break
                with conn:
                    conn.settimeout(60)  # the app has ended: what it sent is here, then the end of stream
                    data = b""
                    try:
                        while chunk := conn.recv(100):
                            data += chunk
                    except OSError:
                        pass
                    self.received.append(data)
        finally:
            self.sock.close()


def run_escape(tmp_path, mode, *flags):
    app = tmp_path / ("escape-" + mode)
    shutil.copytree(HERE / "app", app, ignore=shutil.ignore_patterns("__pycache__", "build", "logs"))
    data = app / "data"
    data.mkdir()
    (data / "inside.txt").write_text("inside\n")
    os.symlink("/etc/passwd", data / "out")
    server = Server()
    try:
        proc = subprocess.run([LAUNCHER, "run", str(app), "-q", "--log-format", "json", "-e", "ESCAPE_MODE=" + mode,
                               "-e", "ESCAPE_NAMESPACES=%d" % namespaces_expected(),
                               "-e", "ESCAPE_PORT=%d" % server.port, *flags], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=TIMEOUT, cwd=str(app))
    finally:
        server.close()
    log = (app / "logs" / "console.log").read_text("utf-8", "replace") if (app / "logs" / "console.log").exists() else ""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return proc, lines, server.received


def explain(proc, lines):
    return "exit status %s\n--- console ---\n%s\n--- stderr ---\n%s" % (
        proc.returncode, "\n".join("%s %s %s %s" % (l.get("task"), l.get("level"), l.get("event") or "-",
                                                     l.get("msg") or l.get("message") or l.get("text"))
                                   for l in lines), proc.stderr)


def text(line):
    return line.get("msg") or line.get("message") or line.get("text") or ""


def outcomes(lines):
    out = {}
    for l in lines:
        t = text(l)
        if t.startswith("escape: [") and "]" in t:
            level, rest = t[len("escape: ["):].split("] ", 1)
            name, outcome = rest.split(": ", 1)
            out[name] = (level, outcome)
    return out


def test_insecure_run_lets_host_level_attempts_through(tmp_path):
    proc, lines, received = run_escape(tmp_path, "insecure", "--insecure-no-sandbox")
    info = explain(proc, lines)
    assert proc.returncode == 0, info
    results = outcomes(lines)
    assert len(results) >= 30, info
    for name, (level, outcome) in results.items():
        if level == "host":
            assert outcome.startswith("SUCCEEDED"), "%s: %s\n%s" % (name, outcome, info)
        else:
            assert outcome.startswith("denied"), "%s: %s\n%s" % (name, outcome, info)
    assert received == [b"escaped\n"], "the direct connection must reach the test's server: %r" % received
    banner = [text(l) for l in lines if l.get("event") == "sandbox"]
    assert banner and banner[0].startswith("confinement: UNCONFINED"), info
    assert any(l.get("event") == "sandbox.off" for l in lines), info
    hosts = sum(1 for level, _ in results.values() if level == "host")
    assert "escape: %d attempts, %d denied" % (len(results), len(results) - hosts) in map(text, lines), info


def test_strict_run_denies_every_attempt_and_audits_it(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    proc, lines, received = run_escape(tmp_path, "strict")
    info = explain(proc, lines)
    assert proc.returncode == 0, info
    results = outcomes(lines)
    assert len(results) >= 30, info
    for name, (level, outcome) in results.items():
        assert outcome.startswith("denied"), "%s: %s\n%s" % (name, outcome, info)
    assert "escape: %d attempts, %d denied" % (len(results), len(results)) in map(text, lines), info
    assert received == [], "nothing may reach the host's network: %r" % received
    # The kernel stayed healthy: the app logged through the ABI after the attempts, and ended normally.
    assert any(text(l).startswith("escape: kernel still serving") for l in lines), info
    assert any(l.get("event") == "kernel.exit" and "status 0" in text(l) for l in lines), info
    # The banner and the worker's report state the confinement.
    banner = [text(l) for l in lines if l.get("event") == "sandbox"]
    assert banner and banner[0].startswith("confinement: strict: ") and "no_new_privs, Landlock ABI" in banner[0], info
    applied = [text(l) for l in lines if l.get("event") == "sandbox.applied"]
    assert len(applied) == 2 and all(a.startswith("ukernel: confined: landlock abi") for a in applied), info
    if namespaces_expected():
        assert all("namespaces mount+pid+ipc+net+uts" in a for a in applied), info
        assert not any(" uid 0 " in a for a in applied), info
    # Every attempt is in the console: ABI-level ones as audit events, host-level ones as the worker's refusals
    # (its own stderr lines: the worker's words, never kernel events).
    events = [l.get("event") for l in lines]
    assert events.count("handle.bad") >= 4, info
    assert events.count("net.denied") >= 3, info
    assert events.count("io.denied") >= 3, info
    assert events.count("cap.denied") >= 2, info  # the reporter's NET, main's IO after cap_drop
    assert "sandbox.refused" not in events, info
    refused = [text(l) for l in lines if l.get("level") == "ERR" and text(l).startswith("ukernel: refused ")]
    # (reading /etc/passwd says nothing with namespaces: the worker reads its own generated one, no refusal)
    needles = ("open('/etc/passwd')",) if not namespaces_expected() else ()
    # A root kernel lets the worker make TCP sockets and refuses their bind/connect itself (the notify variant):
    # the refusal is then the kernel's net.denied line, not the worker's
    supervised = os.geteuid() == 0
    if supervised:
        assert any(text(l).startswith("bind(2) 0.0.0.0:0 denied") for l in lines), info
        assert any(text(l).startswith("connect(2) 127.0.0.1:") and "denied" in text(l) for l in lines), info
    else:
        needles += ("socket(AF_INET, SOCK_STREAM)",)
    for needle in needles + ("open('/var/tmp/ukernel-escape-", "escape-was-here.txt", "os.listdir('/')",
                   "socket(AF_INET, SOCK_DGRAM)", "socket(AF_UNIX, SOCK_STREAM)",
                   "socket(AF_NETLINK, SOCK_RAW)", "subprocess.Popen", "os.system", "os.fork", "os.exec",
                   "os.kill(", "/environ", "/mem"):
        assert any(needle in r for r in refused), "no refusal message for %s\n%s" % (needle, info)
    assert any("use the NET capability" in r for r in refused), info
