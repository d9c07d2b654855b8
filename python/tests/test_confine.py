"""ukernel._confine: real confined processes (the seccomp program itself: test_seccomp.py).

Every confinement test runs in a subprocess: confinement is for good, and must never touch the test runner.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from _fake_kernel import FakeKernel

from ukernel import _confine as c

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UKERNEL_DIR = os.path.join(PYTHON_DIR, "ukernel")


from _host import host_can_confine, needs_confinement  # noqa: E402


# -- the filter: its program is checked in test_seccomp.py (a BPF interpreter over every number) ------------------

def test_read_paths_cover_the_runtime_and_the_bundle(tmp_path):
    paths = c.read_paths(str(tmp_path))
    assert os.path.realpath(sys.prefix) in paths or any(os.path.realpath(sys.prefix).startswith(p + "/")
                                                        for p in paths)
    assert str(tmp_path.resolve()) in paths
    assert "/" not in paths and "/etc" not in paths and "/proc" not in paths


# -- real confined processes ----------------------------------------------------------------------------------------

def confined(tmp_path, body, max_abi=None, prelude=""):
    """Runs ``body`` in a fresh ``python3 -I -S`` after confining it to ``tmp_path``; returns the process."""
    script = tmp_path / "probe.py"
    script.write_text("import os, sys\nsys.path.insert(0, %r)\n%s\nfrom ukernel import _confine\n"
                      "print(_confine.confine(os.getcwd(), max_abi=%r).line(), flush=True)\n%s\n"
                      % (PYTHON_DIR, textwrap.dedent(prelude), max_abi, textwrap.dedent(body)))
    return subprocess.run([sys.executable, "-I", "-S", str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)


@needs_confinement
def test_confined_process_keeps_python_working_and_loses_the_host(tmp_path):
    (tmp_path / "mine.txt").write_text("bundle data\n")
    r = confined(tmp_path, """
        import asyncio, json, socket, threading, subprocess
        out = []
        def attempt(name, fn):
            try:
                fn()
                out.append(name + ": allowed")
            except PermissionError as e:
                out.append(name + ": refused")
        attempt("read bundle", lambda: open("mine.txt").read())
        attempt("read /etc/passwd", lambda: open("/etc/passwd").read())
        attempt("write bundle", lambda: open("new.txt", "w"))
        attempt("socket", lambda: socket.socket())
        attempt("fork", os.fork)
        attempt("exec", lambda: os.execv("/bin/true", ["true"]))
        attempt("subprocess", lambda: subprocess.run(["/bin/true"]))
        attempt("signal parent", lambda: os.kill(os.getppid(), 0))
        attempt("signal self", lambda: os.kill(os.getpid(), 0))
        def in_thread():
            attempt("socket in a thread", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        t = threading.Thread(target=in_thread); t.start(); t.join()
        a, b = socket.socketpair(); a.send(b"x"); assert b.recv(1) == b"x"
        async def m():
            await asyncio.sleep(0)
            return "asyncio ok"
        out.append(asyncio.run(m()))
        out.append(json.dumps({"stdlib": "ok"}))
        print("\\n".join(out))
    """)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("ukernel: confined: landlock abi"), lines
    assert "seccomp allow-list (" in lines[0] and "no_new_privs" in lines[0]
    assert lines[1:] == ["read bundle: allowed", "read /etc/passwd: refused", "write bundle: refused",
                         "socket: refused", "fork: refused", "exec: refused", "subprocess: refused",
                         "signal parent: refused", "signal self: allowed", "socket in a thread: refused",
                         "asyncio ok", '{"stdlib": "ok"}'], r.stdout
    assert "use the NET capability" in r.stderr
    assert "ukernel: refused open('/etc/passwd')" in r.stderr
    assert "ukernel: refused os.fork()" in r.stderr


@needs_confinement
def test_socket_refusal_names_the_net_capability(tmp_path):
    r = confined(tmp_path, """
        import socket
        try:
            socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        except PermissionError as e:
            print("errno", e.errno, "|", e.strerror)
    """)
    assert r.returncode == 0, r.stderr
    assert "errno 1 | socket(AF_INET6, SOCK_STREAM) refused: raw sockets are refused in a ukernel worker: use the " \
           "NET capability" in r.stdout


@needs_confinement
def test_socket_module_imported_before_confinement_is_guarded_too(tmp_path):
    r = confined(tmp_path, """
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=1)
        except PermissionError as e:
            print("refused:", "NET capability" in str(e))
    """, prelude="import socket")
    assert r.returncode == 0, r.stderr
    assert "refused: True" in r.stdout


@needs_confinement
def test_older_landlock_abi_still_confines_files_and_signals(tmp_path):
    r = confined(tmp_path, """
        for name, fn in (("passwd", lambda: open("/etc/passwd")), ("parent", lambda: os.kill(os.getppid(), 0)),
                         ("group", lambda: os.kill(0, 0))):
            try:
                fn()
                print(name, "allowed")
            except PermissionError:
                print(name, "refused")
        os.kill(os.getpid(), 0)
        print("self ok")
    """, max_abi=3)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("ukernel: confined: landlock abi 3 (")
    assert "tcp" not in r.stdout.splitlines()[0]  # TCP rules need ABI 4 (seccomp refuses sockets anyway)
    assert r.stdout.splitlines()[1:] == ["passwd refused", "parent refused", "group refused", "self ok"]


@needs_confinement
def test_a_running_thread_makes_confinement_fail_before_abi_8(tmp_path):
    if c.landlock_abi() >= 8:
        pytest.skip("Landlock ABI 8 confines every thread (TSYNC)")
    r = confined(tmp_path, "", prelude="""
        import threading
        stop = threading.Event()
        threading.Thread(target=stop.wait, daemon=True).start()
    """)
    assert r.returncode != 0
    assert "ConfinementError" in r.stderr and "threads are running" in r.stderr


# -- the loader -----------------------------------------------------------------------------------------------------

def bundle(tmp_path, main):
    root = tmp_path / "bundle"
    shutil.copytree(UKERNEL_DIR, root / "adapter" / "ukernel", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "src").mkdir()
    (root / "ukernel.toml").write_text('name = "t"\nentry = "src/main.py"\n')
    (root / "src" / "main.py").write_text(textwrap.dedent(main))
    return root


def run_loader(root, kernel, wrapper=None, **env):
    cmd = [sys.executable, "-I", "-S", str(root / "adapter" / "ukernel" / "_boot.py")]
    if wrapper:
        cmd = [sys.executable, "-I", "-S", str(wrapper)] + cmd
    return subprocess.run(cmd, cwd=root, env=kernel.env(**env), capture_output=True, text=True, timeout=60)


MAIN = """
    def main():
        try:
            open("/etc/passwd").read()
            print("host file read")
        except PermissionError:
            print("host file refused")
"""


@needs_confinement
def test_loader_confines_before_the_app_and_reports_it_when_the_kernel_asks(tmp_path):
    with FakeKernel() as k:
        r = run_loader(bundle(tmp_path, MAIN), k, UKERNEL_SANDBOX="strict")
    assert r.returncode == 0, r.stderr
    first, rest = r.stdout.split("\n", 1)
    assert first.startswith("ukernel: confined: landlock abi "), r.stdout
    assert rest == "host file refused\n"


def test_loader_off_mode_runs_unconfined_and_says_so(tmp_path):
    with FakeKernel() as k:
        r = run_loader(bundle(tmp_path, MAIN), k, UKERNEL_SANDBOX="off")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ukernel: unconfined: the sandbox is off")
    assert r.stdout.endswith("host file read\n")


# A wrapper that makes the host look as if it had no Landlock (ENOSYS), then runs the loader.
NO_LANDLOCK = """
import ctypes, os, sys
sys.path.insert(0, %r)
from ukernel import _confine as c
prog = [(c.BPF_LD_W_ABS, 0, 0, c.SECCOMP_DATA_NR), (c.BPF_JEQ_K, 0, 1, c.SYS_LANDLOCK_CREATE_RULESET),
        (c.BPF_RET_K, 0, 0, c.SECCOMP_RET_ERRNO | c.ENOSYS), (c.BPF_RET_K, 0, 0, c.SECCOMP_RET_ALLOW)]
class F(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]
class P(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(F))]
insns = (F * len(prog))(*[F(*i) for i in prog])
assert c._prctl(c.PR_SET_NO_NEW_PRIVS, 1) == 0
assert c._syscall(317, 1, 0, ctypes.byref(P(len(prog), insns))) == 0
os.execv(sys.argv[1], sys.argv[1:])
"""


@needs_confinement
def test_loader_refuses_to_run_the_app_when_confinement_fails(tmp_path):
    wrapper = tmp_path / "no_landlock.py"
    wrapper.write_text(NO_LANDLOCK % PYTHON_DIR)
    with FakeKernel() as k:
        r = run_loader(bundle(tmp_path, "def main():\n    print('app code ran')\n"), k, wrapper,
                       UKERNEL_SANDBOX="strict")
        codes = k.exit_codes
    assert r.returncode == 71, (r.stdout, r.stderr)
    assert "app code ran" not in r.stdout
    assert "ukernel: confinement failed, the task's code is not run: the host has no Landlock" in r.stderr
    assert codes == [71]
