"""Attack class: UDP datagrams to a host port the manifest does not allow (ABI 1.2 gave workers UDP).

A worker may send datagrams only through the kernel (``net_sendto``), which checks every destination against the
``udp:`` rules of ``[caps.net] connect``; it never holds a UDP descriptor (a connected UDP socket's ``sendmsg``
with ``msg_name`` reaches other addresses, and the filter cannot read ``msg_name``: docs/confinement.md, "UDP").
The attacker tries a socket of its own (``socket(AF_INET, SOCK_DGRAM)`` + ``sendto``, and ``sendmsg`` with an
address) and the kernel's path to a port no rule allows; a datagram to the one allowed port shows the kernel's path
works. The host's UDP sockets are read after the run: what arrived is the verdict, not what the worker says."""

import socket

import pytest

from _harness import host_can_confine, make_app, run_app

MAIN = """\
import errno, os, socket
import ukernel

def attempt(name, fn):
    try:
        fn()
    except OSError as e:
        ukernel.info("attempt %s: %s" % (name, errno.errorcode.get(e.errno, str(e.errno))))
        return
    ukernel.info("attempt %s: ok" % name)

def main():
    ukernel.cap_acquire("LOG", "NET")
    target = ("127.0.0.1", int(os.environ["TARGET_PORT"]))
    allowed = ("127.0.0.1", int(os.environ["ALLOWED_PORT"]))
    def own_sendto():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"escaped by sendto", target)
    attempt("own socket sendto", own_sendto)
    def own_sendmsg():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(allowed)
        s.sendmsg([b"escaped by sendmsg"], [], 0, target)
    attempt("own socket sendmsg", own_sendmsg)
    def kernel_sendto(addr, data):
        k = ukernel.KernelSocket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            k.sendto(data, addr)
        finally:
            k.close()
    attempt("kernel sendto target", lambda: kernel_sendto(target, b"escaped through the kernel"))
    attempt("kernel sendto allowed", lambda: kernel_sendto(allowed, b"allowed through the kernel"))
    return 0
"""

MANIFEST = """\
name = "attacker"
entry = "src/main.py"

[caps]
grant = ["LOG", "NET"]

[caps.net]
connect = ["udp:127.0.0.1:{allowed}", "127.0.0.1:{target}"]
"""


def host_udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def received(sock):
    """What reached the host socket; the run is over, so anything sent is queued by now."""
    out = []
    while True:
        try:
            out.append(sock.recv(1000))
        except BlockingIOError:
            return sorted(out)


def attack(tmp_path, *flags):
    target, allowed = host_udp(), host_udp()
    try:
        manifest = MANIFEST.format(allowed=allowed.getsockname()[1], target=target.getsockname()[1])
        run = run_app(make_app(tmp_path / "app", MAIN, manifest), *flags,
                      env=["TARGET_PORT=%d" % target.getsockname()[1], "ALLOWED_PORT=%d" % allowed.getsockname()[1]])
        outcome = {t.split(": ", 1)[0][len("attempt "):]: t.split(": ", 1)[1]
                   for t in run.texts("main") if t.startswith("attempt ")}
        return run, outcome, received(target), received(allowed)
    finally:
        target.close()
        allowed.close()


def test_insecure_worker_reaches_a_host_udp_port_with_its_own_socket(tmp_path):
    run, outcome, at_target, at_allowed = attack(tmp_path, "--insecure-no-sandbox")
    assert run.status == 0, run.explain()
    assert at_target == [b"escaped by sendmsg", b"escaped by sendto"], (outcome, run.explain())
    # The kernel's path checks the allow-list whatever the sandbox: a TCP rule for the port admits no datagram.
    assert outcome["kernel sendto target"] == "EACCES", outcome
    assert at_allowed == [b"allowed through the kernel"], outcome


def test_strict_worker_reaches_only_the_allowed_udp_port(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    run, outcome, at_target, at_allowed = attack(tmp_path)
    assert run.status == 0, run.explain()
    assert at_target == [], (outcome, run.explain())
    assert outcome["own socket sendto"] != "ok" and outcome["own socket sendmsg"] != "ok", outcome
    assert outcome["kernel sendto target"] == "EACCES", outcome
    assert at_allowed == [b"allowed through the kernel"], (outcome, run.explain())
    denied = [t for t in run.texts() if "net_sendto" in t and "denied" in t and "udp:127.0.0.1:" in t]
    assert denied, "the kernel's console line names the udp: rule to add\n" + run.explain()
