"""ukernel._seccomp: the allow-list, its BPF program, and what runs under it.

Three layers of checks:

* the program, run through a small classic-BPF interpreter over ``seccomp_data`` built here: its shape, every
  number 0..500 against a reference written independently in this file (:data:`REFERENCE`: the specification of
  each argument rule), with argument values swept property-style;
* the declaration against the documentation (the table in docs/confinement.md is generated from it) and against
  the host's ``<asm/unistd_64.h>`` numbers;
* the real filter: a table of what CPython, the adapter and common C extensions need, each run in a fresh
  ``python3 -I -S`` confined by ``_confine.confine`` (Landlock and this filter), and once through a real kernel
  (``<repo>/ukernel run``) with asyncio on the kernel's event loop.

The attacks themselves, with their host-side effects, are in ``adversarial/test_syscalls.py`` and
``adversarial/test_host_ipc.py``.
"""

import os
import random
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ukernel import _confine as c
from ukernel import _seccomp as s

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
ALLOW = s.SECCOMP_RET_ALLOW
EPERM = s.SECCOMP_RET_ERRNO | s.EPERM
ENOSYS = s.SECCOMP_RET_ERRNO | s.ENOSYS
KILL = s.SECCOMP_RET_KILL_PROCESS
OWN = 4242
T = s.X86_64


# -- a classic BPF interpreter (the subset seccomp accepts) --------------------------------------------------------

def seccomp_data(nr, args=(), arch=s.AUDIT_ARCH_X86_64, ip=0x401000):
    args = tuple(args) + (0,) * (6 - len(args))
    return struct.pack("<IIQ6Q", nr & 0xFFFFFFFF, arch, ip, *[a & 0xFFFFFFFFFFFFFFFF for a in args])


def run_bpf(prog, data):
    """Runs ``prog`` over the 64-byte ``data``; returns the action. Raises on anything seccomp would reject."""
    acc, pc, steps = 0, 0, 0
    while True:
        assert 0 <= pc < len(prog), "fell off the program at %d" % pc
        steps += 1
        code, jt, jf, k = prog[pc]
        if code == s.BPF_LD_W_ABS:
            assert k % 4 == 0 and k + 4 <= len(data), "unaligned or out-of-range load %d" % k
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == s.BPF_ALU_AND_K:
            acc &= k
            pc += 1
        elif code == s.BPF_JEQ_K:
            pc += 1 + (jt if acc == k else jf)
        elif code == s.BPF_JGE_K:
            pc += 1 + (jt if acc >= k else jf)
        elif code == s.BPF_JSET_K:
            pc += 1 + (jt if acc & k else jf)
        elif code == s.BPF_RET_K:
            return k
        else:
            raise AssertionError("opcode %#x is not part of the filter's instruction set" % code)


PROG = s.build_filter(own_pid=OWN)


def verdict(nr, *args, prog=PROG):
    return run_bpf(prog, seccomp_data(nr, args))


# -- the specification: what each argument rule must allow, written without the declaration's rule objects -------

def lo(v):
    return v & 0xFFFFFFFF


CLONE_FORBIDDEN = (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000  # NEW*
                   | 0x00002000 | 0x00004000 | 0x00008000 | 0x00800000)  # PTRACE, VFORK, PARENT, UNTRACED
PRCTL_OK = {2, 3, 7, 15, 16, 21, 23, 30, 37, 39, 0x53564D41}
IOCTL_OK = {0x5401, 0x540F, 0x5413, 0x541B, 0x5421, 0x5450, 0x5451}
FCNTL_OK = {0, 1, 2, 3, 4, 1030, 1032, 1033, 1034}  # no record locks: they reach host writers
SOCKOPT_OK = ({(1, o) for o in (2, 7, 8, 9, 10, 13, 18, 19, 20, 21)}  # SOL_SOCKET
              | {(6, o) for o in (1, 3, 4, 5, 6, 12, 18, 25)}  # IPPROTO_TCP
              | {(0, 1), (41, 67)})  # IP_TOS, IPV6_TCLASS

REFERENCE = {
    "fcntl": (1, lambda a: lo(a[1]) in FCNTL_OK, FCNTL_OK),
    "ioctl": (1, lambda a: lo(a[1]) in IOCTL_OK, IOCTL_OK),
    "sendto": (4, lambda a: a[4] == 0 and not lo(a[3]) & 0x20000000, {0}),  # no address, no MSG_FASTOPEN
    "sendmsg": (2, lambda a: not lo(a[2]) & 0x20000000, {0, 0x40, 0x4000, 0x8000}),
    "socketpair": (1, lambda a: lo(a[0]) == 1 and lo(a[1]) & ~(0o4000 | 0o2000000) == 1,  # AF_UNIX, SOCK_STREAM
                   {1, 1 | 0o4000, 1 | 0o2000000}),
    "clone": (0, lambda a: bool(lo(a[0]) & 0x10000) and not lo(a[0]) & CLONE_FORBIDDEN, {0x3D0F00, 0x10000}),
    # (level, optname): what asyncio and common clients set on a connected stream, nothing that re-routes it
    "setsockopt": (2, lambda a: (lo(a[1]), lo(a[2])) in SOCKOPT_OK, {o for _, o in SOCKOPT_OK}),
    "kill": (0, lambda a: lo(a[0]) == OWN, {OWN}),
    "tgkill": (0, lambda a: lo(a[0]) == OWN, {OWN}),
    "rt_sigqueueinfo": (0, lambda a: lo(a[0]) == OWN, {OWN}),
    "rt_tgsigqueueinfo": (0, lambda a: lo(a[0]) == OWN, {OWN}),
    "prctl": (0, lambda a: lo(a[0]) in PRCTL_OK, PRCTL_OK),
    "prlimit64": (0, lambda a: lo(a[0]) in (0, OWN), {0, OWN}),
    # page-cache eviction and probing of host files: POSIX_FADV_DONTNEED/NOREUSE, RWF_NOWAIT
    "fadvise64": (3, lambda a: lo(a[3]) not in (4, 5), {0, 1, 2, 3}),
    "preadv2": (5, lambda a: not lo(a[5]) & 0x8, {0, 0x1, 0x2, 0x4, 0x10}),
    "pwritev2": (5, lambda a: not lo(a[5]) & 0x8, {0, 0x1, 0x2, 0x4, 0x10}),
    # set-ID bits in a created file's or directory's mode: root's on the host through an idmapped preopen
    "open": (2, lambda a: not lo(a[2]) & 0o6000, {0, 0o644, 0o777, 0o1777}),
    "openat": (3, lambda a: not lo(a[3]) & 0o6000, {0, 0o600, 0o666, 0o777}),
    "mkdir": (1, lambda a: not lo(a[1]) & 0o6000, {0o700, 0o755, 0o777, 0o1777}),
    "mkdirat": (2, lambda a: not lo(a[2]) & 0o6000, {0o700, 0o755, 0o777, 0o1777}),
}
BY_NR = {call.nr: call for call in s.ALLOWED}


def expected(nr, args):
    args = tuple(args) + (0,) * (6 - len(args))
    call = BY_NR.get(nr)
    if call is not None:
        if call.rule is None:
            return ALLOW
        return ALLOW if REFERENCE[call.name][1](args) else EPERM
    if nr in (435, 437) or nr > 469:  # clone3, openat2, and calls newer than the declaration: libc falls back
        return ENOSYS
    return EPERM


def test_every_argument_rule_has_a_reference_here():
    assert {c.name for c in s.argument_checks()} == set(REFERENCE)


# -- the program's shape -------------------------------------------------------------------------------------------

def test_program_is_well_formed_bpf():
    assert 0 < len(PROG) <= 4096
    for pc, (code, jt, jf, k) in enumerate(PROG):
        assert 0 <= jt <= 255 and 0 <= jf <= 255 and 0 <= k <= 0xFFFFFFFF, (pc, PROG[pc])
        if code in (s.BPF_JEQ_K, s.BPF_JGE_K, s.BPF_JSET_K):
            assert pc + 1 + max(jt, jf) < len(PROG), "jump out of the program at %d" % pc
    assert PROG[-1][0] == s.BPF_RET_K


def test_foreign_architecture_is_killed_before_anything_else():
    assert PROG[0] == (s.BPF_LD_W_ABS, 0, 0, s.SECCOMP_DATA_ARCH)
    for arch in (0x40000003, 0xC00000B7, 0xC0000028, 0):  # i386 (int 0x80), aarch64, arm, garbage
        for nr in (0, 1, 41, 59, 435):
            assert run_bpf(PROG, seccomp_data(nr, arch=arch)) == KILL


def test_x32_calls_are_refused():
    for nr in (0, 1, 41, 56, 59, 512, 547):
        assert verdict(s.X32_SYSCALL_BIT | nr) == EPERM
    assert verdict(0xFFFFFFFF) == EPERM  # -1 as an unsigned number: also above the x32 bit


def test_every_declared_call_is_reachable_with_good_arguments():
    for call in s.ALLOWED:
        if call.rule is None:
            assert verdict(call.nr) == ALLOW, call
        else:
            index, _, good = REFERENCE[call.name]
            for value in good:
                args = [0] * 6
                args[index] = value
                if call.name == "socketpair":
                    args[0], args[1] = 1, value
                if call.name == "setsockopt":
                    for level, optname in SOCKOPT_OK:
                        assert verdict(call.nr, 3, level, optname, 0x1000, 4) == ALLOW, (level, optname)
                    continue
                assert verdict(call.nr, *args) == ALLOW, (call, value)


def test_sweep_every_number_with_random_arguments():
    rng = random.Random(10)
    for nr in range(0, 501):
        vectors = [(0,) * 6] + [tuple(rng.getrandbits(64) for _ in range(6)) for _ in range(4)]
        vectors.append(tuple(rng.getrandbits(32) for _ in range(6)))
        for args in vectors:
            assert verdict(nr, *args) == expected(nr, args), (nr, args)


def _interesting(rng, good):
    """A value for a checked argument: good ones, good with high bits, near misses, single bits, noise."""
    pick = rng.randrange(6)
    if pick == 0:
        return rng.choice(sorted(good))
    if pick == 1:
        return rng.choice(sorted(good)) | (rng.getrandbits(32) << 32)
    if pick == 2:
        return rng.choice(sorted(good)) ^ (1 << rng.randrange(32))
    if pick == 3:
        return 1 << rng.randrange(64)
    if pick == 4:
        return rng.choice(sorted(good)) | rng.getrandbits(32)
    return rng.getrandbits(64)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_argument_rule_agrees_with_the_reference(name):
    rng = random.Random(name)
    index, _, good = REFERENCE[name]
    nr = T[name]
    for _ in range(3000):
        args = [rng.getrandbits(64) if rng.random() < 0.3 else 0 for _ in range(6)]
        args[index] = _interesting(rng, good)
        if name == "socketpair":
            args[0] = rng.choice([1, 1, 2, 10, 16, 1 | (1 << 40)])
        if name == "setsockopt":
            args[1] = rng.choice([0, 1, 6, 41, 1 | (1 << 40), 6 | (1 << 33), 17, rng.getrandbits(32)])
        assert verdict(nr, *args) == expected(nr, args), (name, [hex(a) for a in args])


def test_attacks_seen_on_main_are_refused_by_the_program():
    ppid = 999
    assert verdict(T["prlimit64"], ppid, 0, 0x1000, 0) == EPERM  # RLIMIT_CPU on the kernel
    assert verdict(T["prlimit64"], 0, 0, 0x1000, 0) == ALLOW  # its own limits
    assert verdict(T["prctl"], 1, 0) == EPERM  # PR_SET_PDEATHSIG 0: outlive the kernel
    assert verdict(T["prctl"], 2, 0x1000) == ALLOW  # PR_GET_PDEATHSIG
    for option in (4, 22, 0x59616D61, 35, 36, 47, 38):  # SET_DUMPABLE, SET_SECCOMP, SET_PTRACER, SET_MM, ...
        assert verdict(T["prctl"], option, 0) == EPERM, option
    assert verdict(T["ioctl"], 0, 0x5412, 0) == EPERM  # TIOCSTI
    assert verdict(T["socketpair"], 1, 2, 0) == EPERM  # AF_UNIX, SOCK_DGRAM
    assert verdict(T["socketpair"], 1, 5, 0) == EPERM  # SOCK_SEQPACKET
    assert verdict(T["socketpair"], 1, 1 | 0o2004000, 0) == ALLOW  # stream, non-blocking, close-on-exec
    assert verdict(T["sendto"], 3, 0x1000, 1, 0, 0x7FFF0000, 16) == EPERM  # a destination address
    assert verdict(T["sendto"], 3, 0x1000, 1, 0, 1 << 32, 16) == EPERM  # only the high half set
    assert verdict(T["clone"], 0x3D0F00) == ALLOW  # glibc's pthread_create
    assert verdict(T["clone"], 0x11) == EPERM  # fork(): SIGCHLD
    assert verdict(T["clone"], 0x4111) == EPERM  # posix_spawn: CLONE_VM|CLONE_VFORK|SIGCHLD
    assert verdict(T["clone"], 0x3D0F00 | 0x10000000) == EPERM  # a thread in a new user namespace
    assert verdict(T["clone"], 0x3D0F00 | 0x8000) == EPERM  # CLONE_PARENT
    assert verdict(T["clone3"]) == ENOSYS
    for pid in (0, -1, 1, ppid, -OWN):
        assert verdict(T["kill"], pid, 9) == EPERM, pid
    assert verdict(T["kill"], OWN, 10) == ALLOW
    assert verdict(T["tgkill"], OWN, OWN + 1, 10) == ALLOW
    assert verdict(T["tgkill"], ppid, ppid, 9) == EPERM
    for optname in (26, 50):  # SO_ATTACH_FILTER, SO_ATTACH_BPF
        assert verdict(T["setsockopt"], 3, 1, optname, 0x1000, 16) == EPERM
    assert verdict(T["setsockopt"], 3, 1, 7, 0x1000, 4) == ALLOW  # SO_SNDBUF
    # Granted sockets (ABI 1.1): nothing that re-routes, reconnects or rewrites a connection
    for level, optname in ((1, 25), (1, 62), (1, 36), (6, 30), (6, 23), (6, 19), (6, 31), (6, 14), (0, 19),
                           (6, 7)):  # BINDTODEVICE, BINDTOIFINDEX, MARK, FASTOPEN_CONNECT, FASTOPEN, REPAIR, ULP,
        # MD5SIG, IP_TRANSPARENT, and SO_SNDBUF's number at the TCP level (TCP_MAXSEG)
        assert verdict(T["setsockopt"], 3, level, optname, 0x1000, 4) == EPERM, (level, optname)
    assert verdict(T["setsockopt"], 3, 6, 1, 0x1000, 4) == ALLOW  # TCP_NODELAY (asyncio sets it)
    assert verdict(T["sendto"], 3, 0x1000, 1, 0x20000000, 0, 0) == EPERM  # MSG_FASTOPEN
    assert verdict(T["sendmsg"], 3, 0x1000, 0x20000000 | 0x4000) == EPERM  # MSG_FASTOPEN | MSG_NOSIGNAL
    assert verdict(T["sendmsg"], 3, 0x1000, 0x4000) == ALLOW
    for cmd in (8, 10, 15, 1024, 1026):  # F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETLEASE, F_NOTIFY
        assert verdict(T["fcntl"], 3, cmd, 1) == EPERM, cmd
    for cmd in (5, 6, 7, 36, 37, 38):  # F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW
        assert verdict(T["fcntl"], 3, cmd, 0x1000) == EPERM, cmd


@pytest.mark.parametrize("family", [r[0] for r in s.REFUSED])
def test_every_named_refusal_is_refused_with_eperm(family):
    calls = dict(next(r[2] for r in s.REFUSED if r[0] == family))
    for name, nr in calls.items():
        assert nr not in BY_NR, name
        assert verdict(nr) == EPERM, name


def test_the_rw_variant_adds_record_locks_and_flock_and_nothing_else():
    rw = s.build_filter(own_pid=OWN, writable=True)
    fcntl_nr, flock_nr = s.X86_64["fcntl"], s.X86_64["flock"]
    for cmd in s.FCNTL_LOCKS.values():
        assert verdict(fcntl_nr, 3, cmd) == EPERM, cmd  # refused without the variant (test_redteam_locks.py)
        assert verdict(fcntl_nr, 3, cmd, prog=rw) == ALLOW, cmd
    assert verdict(flock_nr, 3, 2) == EPERM and verdict(flock_nr, 3, 2, prog=rw) == ALLOW
    for bad in (8, 1024, 1025, 1031):  # F_SETOWN, F_SETLEASE, F_NOTIFY, F_SETPIPE_SZ: refused in both
        assert verdict(fcntl_nr, 3, bad, prog=rw) == EPERM, bad
    others = [c.nr for c in s.ALLOWED if c.name != "fcntl"] + [nr for _, _, calls in s.REFUSED
                                                              for n, nr in calls.items() if n != "flock"]
    for nr in others:  # every other number: the same verdict with good-enough arguments
        assert verdict(nr, 0, 0, 0, 0, 0, 0, prog=rw) == verdict(nr, 0, 0, 0, 0, 0, 0), nr


def test_the_process_variant_adds_children_and_execve_but_no_namespace_nor_execveat():
    pv = s.build_filter(own_pid=OWN, processes=True)
    clone = s.X86_64["clone"]
    fork_flags = 0x01200011  # glibc's fork(): CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD
    spawn_flags = 0x00004111  # posix_spawn: CLONE_VM | CLONE_VFORK | SIGCHLD
    for flags in (fork_flags, spawn_flags):
        assert verdict(clone, flags) == EPERM, hex(flags)  # refused without the variant
        assert verdict(clone, flags, prog=pv) == ALLOW, hex(flags)
    for bad in list(s.CLONE_NEW.values()) + [s.CLONE_PTRACE, s.CLONE_PARENT, s.CLONE_UNTRACED]:
        assert verdict(clone, fork_flags | bad, prog=pv) == EPERM, hex(bad)
    for name in ("fork", "vfork", "execve", "wait4", "waitid", "pidfd_open", "setsid"):
        assert verdict(s.X86_64[name]) == EPERM, name
        assert verdict(s.X86_64[name], 0, 0, 0, prog=pv) == ALLOW, name
    assert verdict(s.X86_64["kill"], 7, 15) == EPERM and verdict(s.X86_64["kill"], 7, 15, prog=pv) == ALLOW
    arch = s.X86_64["arch_prctl"]
    assert verdict(arch, 0x1002, 0x1000, prog=pv) == ALLOW and verdict(arch, 0x1002, 0x1000) == EPERM
    assert verdict(arch, 0x1001, 0x1000, prog=pv) == EPERM  # ARCH_SET_GS
    for name in ("execveat", "ptrace", "unshare", "setns", "pidfd_getfd", "process_vm_writev", "prctl"):
        assert verdict(s.X86_64[name], 0, 0, 0, 0x1000, prog=pv) == verdict(s.X86_64[name], 0, 0, 0, 0x1000), name
    assert verdict(s.X86_64["execveat"], 3, 0x1000, 0, 0, 0x1000, prog=pv) == EPERM  # fexecve, memfd exec
    assert verdict(s.X86_64["clone3"], prog=pv) == ENOSYS
    assert verdict(s.X86_64["prctl"], 1, 0, prog=pv) == EPERM  # PR_SET_PDEATHSIG, as without


def test_names_are_allowed_landlock_decides():
    for name in ("unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir"):
        assert verdict(s.X86_64[name]) == ALLOW, name
    for name in ("symlink", "symlinkat", "link", "linkat", "mknod", "chmod", "truncate"):
        assert verdict(s.X86_64[name]) == EPERM, name


def test_calls_newer_than_the_declaration_get_enosys():
    assert s.LAST_KNOWN >= max(T.values())
    for nr in (s.LAST_KNOWN + 1, 500, 1000, s.X32_SYSCALL_BIT - 1):
        assert verdict(nr) == ENOSYS


def test_without_a_pid_signals_match_nobody():
    prog = s.build_filter(own_pid=None)
    assert verdict(T["kill"], 0, 9, prog=prog) == EPERM
    assert verdict(T["prlimit64"], 0, prog=prog) == ALLOW


def test_the_declaration_names_each_call_and_number_once():
    names = [c.name for c in s.ALLOWED] + list(s.ENOSYS_CALLS) + [n for r in s.REFUSED for n in r[2]]
    assert len(names) == len(set(names))
    assert len(set(T.values())) == len(T)


def test_numbers_match_the_hosts_headers():
    header = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
    if not header.exists():
        pytest.skip("no <asm/unistd_64.h> on this host")
    known = {m.group(1): int(m.group(2)) for m in re.finditer(r"#define __NR_(\w+) (\d+)", header.read_text())}
    checked = [name for name in T if name in known]
    assert len(checked) > 200
    assert {n: T[n] for n in checked} == {n: known[n] for n in checked}


def test_confine_builds_the_same_program():
    table, arch = c.seccomp_table()
    assert c.build_filter(table, arch, own_pid=OWN) == PROG


def test_documentation_table_is_generated_from_the_declaration():
    doc = (REPO / "docs" / "confinement.md").read_text("utf-8")
    assert s.markdown() in doc, "docs/confinement.md is out of date: regenerate its seccomp tables with " \
                                "`python3 -m ukernel._seccomp --markdown` (run in python/)"
    counts = "seccomp allow-list (%d calls, %d argument checks)" % (len(s.ALLOWED), len(s.argument_checks()))
    assert counts in doc, "docs/confinement.md should quote the report line: " + counts


# -- the real filter: what CPython and common extensions need -------------------------------------------------------

from _host import host_can_confine, needs_confinement  # noqa: E402

#: name -> code run after confinement; each must finish without an exception. ``CERT``/``KEY``: a self-signed
#: certificate in the working directory (the bundle).
WORKLOADS = {
    "ssl": """
        import ssl, socket, threading
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(CERT, KEY)
        client_ctx = ssl.create_default_context(cafile=CERT)
        ssl.create_default_context()  # the system's CA store (read-only view)
        a, b = socket.socketpair()
        out = {}
        def serve():
            with server_ctx.wrap_socket(b, server_side=True) as srv:
                out["server"] = srv.recv(5)
                srv.sendall(b"pong!")
        t = threading.Thread(target=serve)
        t.start()
        with client_ctx.wrap_socket(a, server_hostname="localhost") as cli:
            cli.sendall(b"ping!")
            out["client"] = cli.recv(5)
        t.join()
        assert out == {"server": b"ping!", "client": b"pong!"}, out
    """,
    "sqlite3": """
        import sqlite3
        db = sqlite3.connect(":memory:")
        db.execute("create table t (x)")
        db.executemany("insert into t values (?)", [(i,) for i in range(100)])
        assert db.execute("select sum(x) from t").fetchone() == (4950,)
    """,
    "zlib, gzip, bz2, lzma": """
        import zlib, gzip, bz2, lzma
        data = b"ukernel " * 1000
        for m in (zlib, gzip, bz2, lzma):
            assert m.decompress(m.compress(data)) == data
    """,
    "_decimal": """
        import _decimal  # the C implementation itself (libmpdec)
        assert str(_decimal.Decimal(1) / 7)[:8] == "0.142857"
    """,
    "hashlib, hmac": """
        import hashlib, hmac
        assert hashlib.sha256(b"x").hexdigest().startswith("2d711642")
        hashlib.md5(b"x"), hashlib.blake2b(b"x"), hashlib.sha3_256(b"x"), hmac.new(b"k", b"m", "sha256").digest()
        hashlib.pbkdf2_hmac("sha256", b"p", b"s", 10)
    """,
    "json, pickle, re, struct": """
        import json, pickle, re, struct
        assert json.loads(json.dumps({"a": [1, 2.5, None]})) == {"a": [1, 2.5, None]}
        assert pickle.loads(pickle.dumps({1: (2, 3)})) == {1: (2, 3)}
        assert re.match(r"(\\w+)", "ukernel").group(1) == "ukernel" and struct.pack("<I", 1) == b"\\1\\0\\0\\0"
    """,
    "select, poll, epoll, selectors, pipe": """
        import os, select, selectors, socket
        a, b = socket.socketpair()
        b.send(b"x")
        assert select.select([a], [], [], 5)[0] == [a]
        p = select.poll(); p.register(a, select.POLLIN); assert p.poll(5000)
        e = select.epoll(); e.register(a.fileno(), select.EPOLLIN); assert e.poll(5)
        sel = selectors.DefaultSelector(); sel.register(a, selectors.EVENT_READ); assert sel.select(5)
        r, w = os.pipe(); os.write(w, b"y"); assert os.read(r, 1) == b"y"
    """,
    "threading, queue, executor": """
        import threading, queue, concurrent.futures
        q = queue.Queue()
        ts = [threading.Thread(target=q.put, args=(i,)) for i in range(8)]
        for t in ts: t.start()
        for t in ts: t.join()
        assert sorted(q.get() for _ in range(8)) == list(range(8))
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            assert list(ex.map(abs, [-1, -2, -3])) == [1, 2, 3]
    """,
    "asyncio": """
        import asyncio
        async def main():
            await asyncio.sleep(0.001)
            return await asyncio.get_running_loop().run_in_executor(None, sum, [1, 2])
        assert asyncio.run(main()) == 3
    """,
    "time": """
        import time
        t0 = time.monotonic(); time.sleep(0.01); assert time.monotonic() > t0
        time.time(), time.perf_counter(), time.process_time(), time.thread_time(), time.strftime("%c")
    """,
    "random, secrets, os.urandom, uuid": """
        import os, random, secrets, uuid
        assert len(os.urandom(16)) == 16 and len(secrets.token_bytes(8)) == 8
        random.SystemRandom().random(), random.seed(), uuid.uuid4()
    """,
    "mmap (anonymous)": """
        import mmap
        m = mmap.mmap(-1, 1 << 16); m[:5] = b"hello"; assert m[:5] == b"hello"
        m.flush(); m.resize(1 << 17); m.close()
    """,
    "datetime, zoneinfo": """
        import datetime, zoneinfo
        d = datetime.datetime(2024, 7, 1, 12, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
        assert d.utcoffset() == datetime.timedelta(hours=2)
        datetime.datetime.now().astimezone()
    """,
    "ctypes (call and callback)": """
        import ctypes
        libc = ctypes.CDLL(None)
        assert libc.abs(-5) == 5
        CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        def cmp(a, b):
            return ctypes.cast(a, ctypes.POINTER(ctypes.c_int))[0] - ctypes.cast(b, ctypes.POINTER(ctypes.c_int))[0]
        arr = (ctypes.c_int * 5)(5, 3, 1, 4, 2)
        libc.qsort(arr, 5, ctypes.sizeof(ctypes.c_int), CB(cmp))  # a libffi closure: PROT_EXEC memory
        assert list(arr) == [1, 2, 3, 4, 5]
    """,
    "signal handlers, timers": """
        import os, signal, threading
        got = []
        signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
        signal.signal(signal.SIGALRM, lambda s, f: got.append(s))
        os.kill(os.getpid(), signal.SIGUSR1)
        signal.raise_signal(signal.SIGUSR1)
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        while signal.SIGALRM not in got:
            signal.pause()
        assert got.count(signal.SIGUSR1) == 3, got
        r, w = os.pipe(); os.set_blocking(w, False); signal.set_wakeup_fd(w)
    """,
    "faulthandler": """
        import faulthandler, sys
        faulthandler.enable()
        faulthandler.dump_traceback(sys.stderr)
        faulthandler.dump_traceback_later(60); faulthandler.cancel_dump_traceback_later()
    """,
    "resource, os information": """
        import os, resource, platform, locale
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # lowering its own limit
        resource.getrusage(resource.RUSAGE_SELF), os.times(), os.uname(), os.getcwd(), os.listdir(".")
        os.cpu_count(), os.getpid(), os.getppid(), os.getuid(), os.isatty(0), locale.setlocale(locale.LC_ALL, "")
    """,
    "devices by name (os.devnull, /dev/urandom)": """
        import os
        with open("/dev/urandom", "rb") as f:
            assert len(f.read(16)) == 16
        with open(os.devnull, "w") as f:
            f.write("discarded")
        try:
            open("/dev/zero", "w")
        except PermissionError:
            pass
        else:
            raise AssertionError("/dev/zero opened for writing")
    """,
    "tempfile (the task's private TMPDIR; refused without one)": """
        import os, tempfile
        if os.environ.get("TMPDIR"):  # through a kernel: the task's own temporary directory
            with tempfile.TemporaryDirectory() as d, tempfile.TemporaryFile() as f:
                assert os.path.dirname(d) == os.environ["TMPDIR"], d
                f.write(b"x")
        else:
            try:
                tempfile.TemporaryFile()
            except (PermissionError, FileNotFoundError):
                pass
            else:
                raise AssertionError("a temporary file was created")
    """,
}

def make_certificate(directory):
    """Writes ``cert.pem`` and ``key.pem`` (self-signed, for ``localhost``) with the host's openssl."""
    try:
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                            "-days", "2", "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")],
                           capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.skip("no openssl command to make a test certificate")
    assert r.returncode == 0, r.stderr


PROBE = """\
import os, sys
sys.path.insert(0, %(python)r)
from ukernel import _confine
print(_confine.confine(os.getcwd()).line(), flush=True)
CERT, KEY = "cert.pem", "key.pem"
%(body)s
print("workload ok", flush=True)
"""


@needs_confinement
@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_workload_runs_confined(tmp_path, name):
    make_certificate(tmp_path)
    script = tmp_path / "probe.py"
    script.write_text(PROBE % {"python": str(PYTHON_DIR), "body": textwrap.dedent(WORKLOADS[name])})
    r = subprocess.run([sys.executable, "-I", "-S", str(script)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("ukernel: confined: ") and "seccomp allow-list (%d calls, %d argument checks)" % (
        len(s.ALLOWED), len(s.argument_checks())) in lines[0], lines
    assert lines[-1] == "workload ok", r.stdout


# -- through a real kernel: the loader, the adapter, asyncio on the kernel loop -------------------------------------

KERNEL_APP = """\
import os, sys, traceback, textwrap
import ukernel
from workloads import WORKLOADS

CERT, KEY = os.path.join("src", "cert.pem"), os.path.join("src", "key.pem")

async def on_kernel_loop():
    # (run_in_executor is left out: on the kernel loop it hangs, sandbox or not; reported separately)
    import asyncio
    loop = asyncio.get_running_loop()
    q = asyncio.Queue()
    async def put(i):
        await asyncio.sleep(0.001 * i)
        await q.put(i)
    await asyncio.wait_for(asyncio.gather(*(put(i) for i in range(5))), 60)
    assert sorted(q.get_nowait() for _ in range(5)) == list(range(5))
    return type(loop).__name__

def main():
    ukernel.cap_acquire("LOG", "TIME")
    failed = 0
    for name, body in WORKLOADS.items():
        try:
            exec(compile(textwrap.dedent(body), name, "exec"), {"CERT": CERT, "KEY": KEY, "__name__": "w"})
            ukernel.info("workload %s: ok" % name)
        except BaseException:
            failed += 1
            ukernel.error("workload %s: FAILED %s" % (name, traceback.format_exc().replace("\\n", " | ")))
    import asyncio
    ukernel.info("workload kernel loop: ok (%s)" % asyncio.run(on_kernel_loop()))
    return 1 if failed else 0
"""


@needs_confinement
def test_workloads_run_in_a_confined_worker_of_a_real_kernel(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent / "adversarial"))
    try:
        from _harness import make_app, run_app
    finally:
        sys.path.pop(0)
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certificate(certs)
    workloads = {k: v for k, v in WORKLOADS.items() if k != "asyncio"}  # asyncio runs below, on the kernel loop
    app = make_app(tmp_path / "app", KERNEL_APP, files={
        "src/workloads.py": "WORKLOADS = %r\n" % workloads,
        "src/cert.pem": (certs / "cert.pem").read_text(), "src/key.pem": (certs / "key.pem").read_text()})
    run = run_app(app)
    texts = run.texts("main")
    assert run.status == 0, run.explain()
    applied = [t for t in texts if t.startswith("ukernel: confined: ")]
    assert applied and "seccomp allow-list (" in applied[0], run.explain()
    for name in workloads:
        assert "workload %s: ok" % name in texts, run.explain()
    assert "workload kernel loop: ok (KernelEventLoop)" in texts, run.explain()


ERRNOS = """
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return "ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]
print("newer than the declaration:", call(%(newer)d))
print("clone3:", call(435, 0, 0))
print("shmget:", call(29, 0, 4096, 0o1000 | 0o600))
print("x32 getpid:", call(0x40000000 | 39))
print("getpid:", call(39))
print("prctl PR_SET_PDEATHSIG:", call(157, 1, 0, 0, 0, 0))
print("prctl PR_SET_NAME:", call(157, 15, ctypes.addressof(ctypes.create_string_buffer(b"worker")), 0, 0, 0))
"""


@needs_confinement
def test_the_installed_filter_answers_with_the_declared_errnos(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(PROBE % {"python": str(PYTHON_DIR), "body": ERRNOS % {"newer": s.LAST_KNOWN + 1}})
    r = subprocess.run([sys.executable, "-I", "-S", str(script)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1:] == [
        "newer than the declaration: ENOSYS", "clone3: ENOSYS", "shmget: EPERM", "x32 getpid: EPERM", "getpid: ok",
        "prctl PR_SET_PDEATHSIG: EPERM", "prctl PR_SET_NAME: ok", "workload ok"], r.stdout
