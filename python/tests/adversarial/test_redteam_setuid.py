"""Attack class: a set-user-ID root program made from a read-write preopen.

A root kernel binds an ``rw`` preopen through an idmapped mount: what the worker creates there is owned on the
host by the directory's owner, root for an app directory root made. The worker creates ``x`` with ``open(O_CREAT,
06755)`` (the mode is not metadata the filter refused: ``chmod`` was refused, ``open``'s mode was not); its own
writes clear the set-ID bits (it holds no ``CAP_FSETID``), but the kernel's do not: ``io_open`` + ``io_write``
through the ABI run as root. On main at a932835 the confined worker left ``-rwsr-sr-x root root data/x`` holding
bytes of its choosing: an ELF there is a root shell for any local user who can reach the directory (the host's
filesystem is not ``nosuid``).

Now the filter refuses set-ID bits in the mode of ``open``, ``openat``, ``mkdir`` and ``mkdirat`` (``openat2``,
whose mode is in memory, answers ``ENOSYS``), and the kernel never opens a set-ID file for writing (an operator's
own set-ID file in the preopen included; that check is the kernel's, the same in both modes). With
``--insecure-no-sandbox`` the worker (root) makes the file and fills it itself.
"""

import os
import stat

import pytest

from _harness import host_can_confine, make_app, run_app

MANIFEST = """\
name = "attacker"
entry = "src/main.py"

[caps]
grant = ["LOG", "IO"]

[caps.io]
data = { path = "data", mode = "rw" }
"""

PAYLOAD = b"\x7fELF the worker's program"

MAIN = """\
import ctypes, errno, os
import ukernel

PAYLOAD = %r


def report(name, outcome):
    ukernel.info("attempt %%s: %%s" %% (name, outcome))


def err(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) else type(e).__name__


def main():
    ukernel.cap_acquire("LOG", "IO")
    d = os.environ["UKERNEL_PREOPEN_DATA"]
    try:
        fd = os.open(d + "/x", os.O_CREAT | os.O_WRONLY, 0o6755)
        report("create 06755", "%%o" %% os.fstat(fd).st_mode)
    except OSError as e:
        report("create 06755", err(e))
        fd = None
    try:
        f = ukernel.io_open("data", "x", ukernel.OPEN_WRITE)
        ukernel.io_write(f, PAYLOAD)
        ukernel.io_close(f)
        report("kernel write", "ok")
    except Exception as e:
        report("kernel write", err(e))
        if fd is not None:
            os.write(fd, PAYLOAD)
    if fd is not None:
        os.close(fd)
    try:
        f = ukernel.io_open("data", "operator", ukernel.OPEN_WRITE | ukernel.OPEN_TRUNCATE)
        ukernel.io_write(f, PAYLOAD)
        ukernel.io_close(f)
        report("kernel write operator", "ok")
    except Exception as e:
        report("kernel write operator", err(e))
    try:
        os.mkdir(d + "/sgid", 0o2777)
        report("mkdir 02777", "ok")
    except OSError as e:
        report("mkdir 02777", err(e))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    how = (ctypes.c_uint64 * 3)(os.O_CREAT | os.O_WRONLY, 0o4755, 0)  # struct open_how: flags, mode, resolve
    r = libc.syscall(ctypes.c_long(437), ctypes.c_long(-100), os.fsencode(d + "/y"), how, ctypes.c_size_t(24))
    report("openat2 04755", "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), "?"))
    return 0
""" % PAYLOAD


def attack(tmp_path, *flags):
    app = make_app(tmp_path / "app", MAIN, manifest=MANIFEST)
    data = app / "data"
    data.mkdir()
    (data / "operator").write_bytes(b"the operator's own program")
    os.chmod(data / "operator", 0o4755)
    run = run_app(app, *flags)
    outcomes = {}
    for t in run.texts():
        if t.startswith("attempt "):
            name, outcome = t[len("attempt "):].split(": ", 1)
            outcomes[name] = outcome
    assert run.status == 0, run.explain()
    return data, outcomes, run


def setid(path):
    return bool(os.lstat(path).st_mode & (stat.S_ISUID | stat.S_ISGID))


def test_insecure_worker_makes_a_set_id_program(tmp_path):
    data, out, run = attack(tmp_path, "--insecure-no-sandbox")
    assert setid(data / "x") and (data / "x").read_bytes() == PAYLOAD, (out, run.explain())
    assert os.lstat(data / "x").st_uid == os.geteuid()
    assert out["openat2 04755"] == "ok" and setid(data / "y"), out
    # the kernel's own check holds in both modes
    assert out["kernel write"] == "EACCES" and out["kernel write operator"] == "EACCES", out  # ERR_DENIED
    assert any("set-user-ID or set-group-ID file is never opened for writing" in t for t in run.texts()), out
    assert (data / "operator").read_bytes() == b"the operator's own program"


def test_confined_worker_makes_no_set_id_file(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    data, out, run = attack(tmp_path)
    assert out["create 06755"] == "EPERM" and out["mkdir 02777"] == "EPERM", (out, run.explain())
    assert out["openat2 04755"] == "ENOSYS", out
    assert out["kernel write operator"] == "EACCES", out  # ERR_DENIED
    for p in data.iterdir():
        assert p.name == "operator" or not setid(p), (p, oct(os.lstat(p).st_mode), out)
    assert (data / "operator").read_bytes() == b"the operator's own program"
    assert not (data / "x").exists() or (data / "x").read_bytes() != PAYLOAD or not setid(data / "x")
