"""Attack class: making the kernel resolve names it has no authority for. With only address rules in
``net.connect``, a worker asks to connect to names: before issue 10 the kernel asked the host's resolver about
each (traffic no rule allowed, and a side channel: a name server sees the lookups, their timing leaks), and only
then refused. Now a name that no rule names is refused in the call, before any lookup: the worker gets the denial
synchronously (not "in progress", which is what a lookup in flight looks like) and the kernel's denial names no
resolved address. The names used are under ``.invalid`` (never delegated), so even a regression sends nothing
beyond the host's resolver. The control: ``localhost`` (never looked up) still connects to a server the test runs,
seen from the host side. The kernel's recording-resolver unit test (``NetCallsTest``) shows the resolver is never
asked."""

import socket

from _harness import host_can_confine, make_app, run_app

MANIFEST = """\
name = "resolver"
entry = "src/main.py"

[caps]
grant = ["LOG", "NET"]

[caps.net]
connect = ["127.0.0.1:*", "[::1]:*", "localhost:*"]
"""

MAIN = """\
import os
import ukernel
from ukernel._errors import DeniedError, InProgressError

def attempt(host, port):
    s = ukernel.net_socket()
    try:
        ukernel.net_connect(s, host, port)
        return "connected"
    except DeniedError:
        return "denied-in-call"
    except InProgressError:
        return "in-progress"

def main():
    ukernel.cap_acquire("LOG", "NET")
    for host in ("exfil-1.attacker.invalid", "db.internal.invalid", "LOCALHOST.invalid"):
        ukernel.info("attempt %s: %s" % (host, attempt(host, 443)))
    ukernel.info("control localhost: %s" % attempt("localhost", int(os.environ["PORT"])))
    return 0
"""


def test_a_name_no_rule_names_is_refused_before_any_lookup(tmp_path):
    flags = () if host_can_confine() is None else ("--insecure-no-sandbox",)
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(120)
        port = server.getsockname()[1]
        run = run_app(make_app(tmp_path / "app", MAIN, manifest=MANIFEST), *flags, env=["PORT=%d" % port])
        assert run.status == 0, run.explain()
        # the control reached the host: the test's server saw the connection
        conn, _ = server.accept()
        conn.close()
    texts = run.texts("main")
    for host in ("exfil-1.attacker.invalid", "db.internal.invalid", "localhost.invalid"):
        shown = host if host != "localhost.invalid" else "LOCALHOST.invalid"
        assert "attempt %s: denied-in-call" % shown in texts, run.explain()
        denials = [l["msg"] for l in run.events("net.denied") if host in l["msg"].lower()]
        assert len(denials) == 1, run.explain()
        assert denials[0].startswith("net_connect %s:443 denied" % host), denials
    assert any(t.startswith("control localhost: ") and not t.endswith("denied-in-call") for t in texts), \
        run.explain()
