"""Self-confinement of a worker process: what the loader applies after ``hello`` and before the app's code runs.

In this order (docs/confinement.md explains why):

1. ``PR_SET_NO_NEW_PRIVS`` (required for an unprivileged seccomp filter; no set-uid gain ever after);
2. every Linux capability dropped (a worker started as root keeps its uid but loses CAP_SYS_ADMIN and friends);
3. **Landlock**, the best ABI the host offers: read-only access beneath the Python runtime (``sys.prefix`` and
   friends, the directories of the shared libraries already mapped, the platform's library directories), the
   bundle and a few public data files (``ld.so.cache``, time zones, CA certificates), and the task's own rules
   (``_environ.TaskView.rules``: its preopens read-only or read-write as the manifest says, HOME and TMPDIR
   read-write, its /etc files read-only); write, create, remove and rename only beneath those read-write trees
   (never symbolic links, devices, sockets or FIFOs); execute nowhere; TCP bind and connect denied (ABI >= 4); abstract Unix sockets and signals scoped
   to the worker itself (ABI >= 6);
4. **seccomp-bpf** on every thread (``SECCOMP_FILTER_FLAG_TSYNC``): an allow-list (:mod:`ukernel._seccomp`, one
   declaration of every call a worker may make, with argument checks where a call is only safe with some
   arguments); anything else returns ``EPERM`` (so Python raises ``PermissionError``, never a dead process), or
   ``ENOSYS`` where libc falls back to a call the filter can check (``clone3`` -> ``clone``);
5. messages: a refused ``socket.socket()`` raises ``PermissionError`` naming the NET capability, and an audit
   hook prints one ``ukernel: refused ...`` line to stderr for process creation, writes, reads outside the view
   and signals to other processes. The refusal itself is always the host kernel's (Landlock or seccomp).

Stdlib only (``ctypes`` for ``prctl`` and ``syscall``); Linux on x86_64 (other architectures report that seccomp
is unavailable, and strict mode then refuses to run the worker).
"""

import errno
import os
import sys

from . import _seccomp as _allow
# The filter's constants live with the allow-list (_seccomp); these names stay importable from here.
from ._seccomp import (AUDIT_ARCH_X86_64, BPF_JEQ_K, BPF_LD_W_ABS, BPF_RET_K, ENOSYS, EPERM,  # noqa: F401
                       SECCOMP_DATA_ARCH, SECCOMP_DATA_NR, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO,
                       SECCOMP_RET_KILL_PROCESS, X32_SYSCALL_BIT)

# <linux/prctl.h>, <linux/seccomp.h>, <linux/filter.h>, <linux/audit.h>, <linux/landlock.h>
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 1 << 4  # required with NEW_LISTENER and TSYNC together
SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
LANDLOCK_RESTRICT_SELF_TSYNC = 1 << 3  # ABI 8

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

#: Public data a Python program commonly reads, allowed read-only when present.
DATA_PATHS = ("/etc/ld.so.cache", "/etc/localtime", "/usr/share/zoneinfo", "/etc/ssl/certs",
              "/usr/share/ca-certificates", "/usr/lib/ssl",
              # compiled locales: the C.UTF-8 the kernel sets lives here on Debian's glibc (not built in before
              # 2.35), so setlocale(LC_ALL, "") needs it
              "/usr/lib/locale")

#: The devices a Python program opens by name (``os.devnull``, libraries reading ``/dev/urandom`` directly) and
#: the rights Landlock gives each; the jail binds the same four into the minimal root. Landlock handles ioctl on
#: devices (ABI >= 5) and no rule grants it, so opening one gives no driver requests.
DEVICES = {"/dev/null": FS_READ_FILE | FS_WRITE_FILE, "/dev/zero": FS_READ_FILE, "/dev/random": FS_READ_FILE,
           "/dev/urandom": FS_READ_FILE}

SOCKET_MESSAGE = ("raw sockets are refused in a ukernel worker: use the NET capability "
                  "(ukernel.net_* / asyncio on the kernel loop)")
MAX_MESSAGES = 50


class ConfinementError(Exception):
    """The host refused a step: the worker must not run the app's code (strict mode)."""


class Report:
    """What was applied, for the one ``ukernel: confined: ...`` line the kernel shows."""

    def __init__(self):
        self.landlock_abi = 0
        self.read_paths = []
        self.write_paths = []
        self.net = False
        self.scopes = []
        self.seccomp_calls = 0
        self.seccomp_checks = 0
        self.caps_dropped = False
        self.all_threads = False
        self.programs = []  # files a child may execute (Landlock's execute right)
        #: the notify variant's listener descriptor (``confine(notify=True)``): the loader hands it to the kernel
        #: and closes it before the app's code runs; None without the variant
        self.listener = None

    def line(self):
        parts = []
        ll = "landlock abi %d (read-only: %d paths, %s" % (
            self.landlock_abi, len(self.read_paths),
            "read-write: %s" % " ".join(self.write_paths) if self.write_paths else "no write")
        if self.net:
            ll += ", tcp bind/connect denied"
        if self.scopes:
            ll += ", scoped: " + "+".join(self.scopes)
        if self.programs:
            ll += ", execute: %s" % " ".join(self.programs)
        parts.append(ll + ")")
        parts.append("seccomp allow-list (%d calls, %d argument checks)"
                     % (self.seccomp_calls, self.seccomp_checks))
        if self.listener is not None:
            parts.append("connect/bind/listen decided by the kernel (seccomp user notification)")
        parts.append("no_new_privs")
        if self.caps_dropped:
            parts.append("capabilities dropped")
        return "ukernel: confined: " + ", ".join(parts)


# -- host access ---------------------------------------------------------------------------------------------------

_libc = None


def _c():
    global _libc
    if _libc is None:
        import ctypes

        lib = ctypes.CDLL(None, use_errno=True)
        lib.syscall.restype = ctypes.c_long
        lib.prctl.restype = ctypes.c_int
        lib.mount.restype = ctypes.c_int  # the jail's (_jail.py)
        lib.umount2.restype = ctypes.c_int
        lib.sethostname.restype = ctypes.c_int
        _libc = (ctypes, lib)
    return _libc


def _check(result, what):
    if result < 0:
        ctypes, _ = _c()
        err = ctypes.get_errno()
        raise ConfinementError("%s failed: %s (errno %d)" % (what, os.strerror(err), err))
    return result


def _syscall(nr, *args):
    ctypes, lib = _c()
    conv = [a if not isinstance(a, int) else ctypes.c_long(a) for a in args]
    return lib.syscall(ctypes.c_long(nr), *conv)


def _prctl(option, arg2=0):
    ctypes, lib = _c()
    return lib.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(0), ctypes.c_ulong(0),
                     ctypes.c_ulong(0))


def landlock_abi():
    """The host's Landlock ABI version, 0 when it has none (old kernel, or Landlock not enabled)."""
    if not sys.platform.startswith("linux"):
        return 0
    r = _syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return int(r) if r > 0 else 0


def seccomp_table():
    """The syscall table the filter is built for on this machine, or None where it has none."""
    if sys.platform.startswith("linux") and os.uname().machine == "x86_64" and sys.maxsize > 2 ** 32:
        return _allow.X86_64, AUDIT_ARCH_X86_64
    return None


# -- the steps -----------------------------------------------------------------------------------------------------

#: The real paths this confined task's children may execute (``ukernel.programs()``); empty until confined.
RUNNABLE = ()


def confine(bundle, max_abi=None, rules=(), writable=False, programs=(), processes=False, not_in_force=None,
            notify=False, template=False):
    """Confines this process for good; returns a :class:`Report`. Raises :class:`ConfinementError` when any step
    fails (the process may then be partly confined: it must not run the app). ``max_abi`` (tests only) pretends
    the host offers at most that Landlock ABI. ``rules``: ``[(path, writable)]`` beyond the read list (the task's
    preopens, HOME, temporary directory and /etc files: ``_environ.TaskView.rules``); ``writable``: the seccomp
    filter's rw variant (record locks), for a task with an ``rw`` preopen. ``programs``: the files a child may
    ``execve`` (the manifest's ``[caps] subprocess``, resolved, with their ELF interpreters: Landlock's execute
    right on each, and on nothing else); ``processes``: the seccomp filter's process variant (fork, execve, wait),
    only for a worker in a pid namespace of its own. ``not_in_force``: why the manifest's programs are refused
    although listed (the messages say it). ``notify``: the notify variant (the
    kernel decides connect, bind, listen and accept): the report's ``listener`` is then the notification
    descriptor, which the caller must hand to the kernel and close before any of the app's code runs.
    ``template``: the filter's template variant (a warm template, ``_template``: it forks workers, each of which
    then calls :func:`confine_instance`)."""
    report = Report()
    table = seccomp_table()
    if table is None:
        raise ConfinementError("seccomp-bpf filters are built for Linux x86_64 only; this is %s %s"
                               % (sys.platform, os.uname().machine if hasattr(os, "uname") else "?"))
    abi = landlock_abi()
    if max_abi is not None:
        abi = min(abi, max_abi)
    if abi < 1:
        raise ConfinementError("the host has no Landlock (Linux >= 5.13 with landlock in the LSM list)")
    report.landlock_abi = abi
    if abi < 8:
        _require_single_thread()
    paths = read_paths(bundle)
    _check(_prctl(PR_SET_NO_NEW_PRIVS, 1), "prctl(PR_SET_NO_NEW_PRIVS)")
    report.caps_dropped = _drop_capabilities()
    _landlock(abi, paths, report, rules, programs if processes else ())
    _seccomp(table, abi, report, writable, processes, notify, template)
    global template_forks
    template_forks = template
    sys.dont_write_bytecode = True  # the bundle is read-only now: no __pycache__ attempts
    install_messages(paths + [p for p, _ in rules] + list(programs), [p for p, w in rules if w],
                     programs if processes else None, not_in_force)
    global RUNNABLE
    RUNNABLE = tuple(programs) if processes else ()
    return report


def _require_single_thread():
    # Before ABI 8, landlock_restrict_self applies to the calling thread only; the loader runs before any thread.
    try:
        n = len(os.listdir("/proc/self/task"))
    except OSError:
        n = 1
    if n != 1:
        raise ConfinementError("%d threads are running: Landlock ABI < 8 can confine only a single-threaded "
                               "process" % n)


_read_paths = {}  # bundle -> the list: computed once per process (the jail's P computes it, its child C reuses it)


def read_paths(bundle):
    """Directories and files the worker may read: the runtime, its libraries, the bundle, public data. Computed
    once: the jail needs the list before the view shrinks (``/proc/self/maps`` is gone afterwards), and Landlock
    then allows exactly what the minimal root binds; recomputing it cost ~2.5 ms of every worker's start."""
    cached = _read_paths.get(bundle)
    if cached is None:
        cached = _read_paths[bundle] = _compute_read_paths(bundle)
    return list(cached)


def _compute_read_paths(bundle):
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable or "/")), bundle]
    candidates += _mapped_dirs()
    multiarch = getattr(sys.implementation, "_multiarch", None)
    for base in ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"):
        candidates.append(os.path.join(base, multiarch) if multiarch and base in ("/lib", "/usr/lib") else base)
    candidates += DATA_PATHS
    out, seen = [], set()
    for p in candidates:
        if not p:
            continue
        real = os.path.realpath(p)
        if real in seen or not os.path.exists(real) or real == "/":
            continue
        seen.add(real)
        out.append(real)
    # Drop paths beneath another one: one rule covers them.
    dirs = sorted(p for p in out if os.path.isdir(p))
    kept = [p for p in out if not any(p != d and p.startswith(d.rstrip("/") + "/") for d in dirs)]
    return kept


def _mapped_dirs():
    dirs = []
    try:
        with open("/proc/self/maps", "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].startswith("/") and not parts[5].endswith(" (deleted)"):
                    d = os.path.dirname(parts[5])
                    if not d.startswith(("/proc", "/dev", "/sys", "/memfd:")):
                        dirs.append(d)
    except OSError:
        pass
    return dirs


def _drop_capabilities():
    """Empties the effective, permitted and inheritable sets (and the ambient set); True if any was held."""
    ctypes, _ = _c()

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    if _syscall(125, ctypes.byref(header), ctypes.byref(data)) < 0:  # capget
        return False
    held = any(d.effective or d.permitted or d.inheritable for d in data)
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    if held:
        _check(_syscall(126, ctypes.byref(header), ctypes.byref((Data * 2)())), "capset")  # capset: all empty
    return held


def _fs_rights(abi):
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _write_rights(abi):
    """What a writable tree allows beneath it: write, create and remove regular files and directories, truncate
    (ABI >= 3), move within the tree (refer, ABI >= 2). Never symbolic links, devices, sockets or FIFOs."""
    rights = FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR | FS_MAKE_REG
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    return rights


def _landlock(abi, paths, report, rules=(), programs=()):
    ctypes, _ = _c()

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                    ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = RulesetAttr(_fs_rights(abi), 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP  # handled, and no rule allows any port
        size = 16
        report.net = True
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
        report.scopes = ["abstract-unix", "signal"]
    ruleset = _check(_syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0),
                     "landlock_create_ruleset")
    try:
        for p in paths:
            is_dir = os.path.isdir(p)
            try:
                fd = os.open(p, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = PathBeneath(FS_READ_FILE | (FS_READ_DIR if is_dir else 0), fd)
                _check(_syscall(SYS_LANDLOCK_ADD_RULE, int(ruleset), LANDLOCK_RULE_PATH_BENEATH,
                                ctypes.byref(rule), 0), "landlock_add_rule(%s)" % p)
            finally:
                os.close(fd)
            report.read_paths.append(p)
        for p, writable in rules:
            try:
                fd = os.open(p, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                is_dir = os.path.isdir(p)
                rights = FS_READ_FILE | (FS_READ_DIR if is_dir else 0)
                if writable:
                    rights |= FS_WRITE_FILE | (FS_TRUNCATE if abi >= 3 else 0)
                    if is_dir:
                        rights |= _write_rights(abi)
                rule = PathBeneath(rights, fd)
                _check(_syscall(SYS_LANDLOCK_ADD_RULE, int(ruleset), LANDLOCK_RULE_PATH_BENEATH,
                                ctypes.byref(rule), 0), "landlock_add_rule(%s)" % p)
            finally:
                os.close(fd)
            (report.write_paths if writable else report.read_paths).append(p)
        for p in programs:
            # Execute (and read) on the file itself: the only execute right of the ruleset, which handles it. A
            # script's interpreter and a program's ELF interpreter (ld.so) are opened for execution too.
            try:
                fd = os.open(p, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = PathBeneath(FS_EXECUTE | FS_READ_FILE, fd)
                _check(_syscall(SYS_LANDLOCK_ADD_RULE, int(ruleset), LANDLOCK_RULE_PATH_BENEATH,
                                ctypes.byref(rule), 0), "landlock_add_rule(%s)" % p)
            finally:
                os.close(fd)
            report.programs.append(p)
        for dev, rights in DEVICES.items():
            try:
                fd = os.open(dev, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                rule = PathBeneath(rights, fd)
                _check(_syscall(SYS_LANDLOCK_ADD_RULE, int(ruleset), LANDLOCK_RULE_PATH_BENEATH,
                                ctypes.byref(rule), 0), "landlock_add_rule(%s)" % dev)
            finally:
                os.close(fd)
        _check(_syscall(SYS_LANDLOCK_RESTRICT_SELF, int(ruleset), LANDLOCK_RESTRICT_SELF_TSYNC if abi >= 8 else 0),
               "landlock_restrict_self")
    finally:
        os.close(int(ruleset))


def confine_instance(bundle, rules=(), writable=False, notify=False):
    """The final confinement of a worker forked from a warm template (already confined by :func:`confine` with
    ``template=True``): a Landlock layer of its own (reads as the template's, writes only beneath the ``rules``
    marked writable: its own HOME and temporary directory, the rw preopens) and the filter without the template
    variant, for its own pid (``notify``: the notify variant, whose listener the caller hands to its kernel). Both
    stack on the template's and only take rights away. Returns a :class:`Report`."""
    report = Report()
    table = seccomp_table()
    abi = landlock_abi()
    if table is None or abi < 1:
        raise ConfinementError("no seccomp filter or Landlock on this host")
    report.landlock_abi = abi
    _landlock(abi, read_paths(bundle), report, rules)
    _seccomp(table, abi, report, writable, notify=notify)
    global template_forks
    template_forks = False
    return report


def build_filter(table, arch, own_pid, writable=False, processes=False, notify=False, template=False):
    """The seccomp program as ``(code, jt, jf, k)`` tuples: the allow-list of :mod:`ukernel._seccomp`, signals and
    ``prlimit64`` limited to ``own_pid``. ``table`` is the one :func:`seccomp_table` returns (x86_64 only)."""
    if table is not _allow.X86_64:
        raise ConfinementError("no seccomp allow-list for this syscall table")
    return _allow.build_filter(own_pid, arch, writable, processes, notify, template)


def _seccomp(table_arch, abi, report, writable=False, processes=False, notify=False, template=False):
    ctypes, _ = _c()
    table, arch = table_arch
    # The pid is read now, in the process being confined: in a PID namespace of its own the worker is pid 1.
    prog = build_filter(table, arch, own_pid=os.getpid(), writable=writable, processes=processes,
                        notify=notify, template=template)

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                    ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    insns = (SockFilter * len(prog))(*[SockFilter(*i) for i in prog])
    fprog = SockFprog(len(prog), insns)
    flags = SECCOMP_FILTER_FLAG_TSYNC
    if notify:
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH
    r = _check(_syscall(table["seccomp"], SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(fprog)),
               "seccomp(SECCOMP_SET_MODE_FILTER)")
    if notify:
        report.listener = r
    elif r > 0:
        raise ConfinementError("seccomp: thread %d could not be synchronised" % r)
    report.seccomp_calls = len(_allow.calls(writable, processes, notify, template))
    report.seccomp_checks = len(_allow.argument_checks())


# -- messages ------------------------------------------------------------------------------------------------------

_said = 0


def _say(text):
    global _said
    _said += 1
    if _said > MAX_MESSAGES:
        return
    try:
        sys.stderr.write("ukernel: refused %s%s\n" % (text, "" if _said < MAX_MESSAGES
                                                         else " (further refusals are not shown)"))
        sys.stderr.flush()
    except Exception:
        pass


#: True in a warm template (``confine(template=True)``), whose forks are the app's workers; False again in each.
template_forks = False


def install_messages(paths, writable=(), programs=None, not_in_force=None):
    """Makes refusals speak: a guarded ``socket`` type and an audit hook (the host does the refusing).
    ``writable``: the trees the task may write (no message for writes beneath them). ``programs``: the real paths
    a child may execute when the task may run programs (``[caps] subprocess`` in force), else None. Running a
    program that is not among them raises ``PermissionError`` naming what to add to ``ukernel.toml`` (Landlock
    refuses the ``execve`` anyway: the message is for the user, not the wall)."""
    _guard_sockets()
    roots = tuple(p.rstrip("/") + "/" for p in paths if os.path.isdir(p))
    wroots = tuple(p.rstrip("/") + "/" for p in writable)
    files = frozenset(p for p in paths if not os.path.isdir(p))
    own = os.getpid()
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    process = {"os.fork": "create processes", "os.forkpty": "create processes", "os.exec": "run programs",
               "os.posix_spawn": "run programs", "os.system": "run programs", "subprocess.Popen": "run programs",
               "pty.spawn": "run programs"}
    writes = {"os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.symlink", "os.link", "os.chmod", "os.chown",
              "os.truncate", "os.utime", "os.mkfifo", "os.mknod", "shutil.rmtree"}

    def outside(path):
        if isinstance(path, bytes):
            path = path.decode("utf-8", "surrogateescape")
        if not isinstance(path, str):
            return False
        p = path if path.startswith("/") else os.path.join(os.getcwd(), path)
        if p.startswith(roots) or p in files or p.rstrip("/") + "/" in roots:
            return False
        real = os.path.realpath(p)
        return not (real.startswith(roots) or real in files or real + "/" in roots)

    def inside_writable(path):
        if not wroots:
            return False
        if isinstance(path, bytes):
            path = path.decode("utf-8", "surrogateescape")
        if not isinstance(path, str):
            return False
        p = os.path.normpath(path if path.startswith("/") else os.path.join(os.getcwd(), path)) + "/"
        # the deepest tree the path is in decides: a read-only bind (the bundle) may lie beneath /tmp
        best = max((r for r in roots + wroots if p.startswith(r)), key=len, default=None)
        return best is not None and best in wroots

    def hook(event, args):
        if event == "open":
            path, _, flags = args if len(args) == 3 else (args[0], None, 0)
            if isinstance(path, int):
                return
            rights = DEVICES.get(path if isinstance(path, str) else os.fsdecode(path))
            if rights is not None and (rights & FS_WRITE_FILE or not flags & write_flags):
                return  # a device Landlock lets the worker open this way (os.devnull, /dev/urandom)
            if flags & write_flags and not inside_writable(path):
                _say("%s: outside the trees the task may write (its rw preopens, named by UKERNEL_PREOPEN_<NAME>; "
                     "HOME; TMPDIR): declare a preopen with mode = \"rw\" in [caps.io]" % _call("open", path))
            elif outside(path):
                _say("%s: outside the worker's read-only view (the Python runtime and the bundle); read files "
                     "through the IO capability (ukernel.io_open)" % _call("open", path))
        elif event in ("os.listdir", "os.scandir"):
            if args and outside(args[0] if args[0] is not None else "."):
                _say("%s: outside the worker's read-only view; list directories through the IO capability"
                     % _call(event, args[0]))
        elif event in process:
            if event == "os.fork" and template_forks:
                return  # a warm template forking a worker (_template)
            if event in ("os.fork", "os.forkpty") and programs is not None:
                return
            if event in RUNS and args:
                refusal = program_refusal(args[0] if event != "os.system" else "/bin/sh", programs,
                                          args[-1] if event in ("subprocess.Popen", "os.exec", "os.posix_spawn")
                                          else None, not_in_force)
                if refusal is None:
                    return
                what = "%s: %s" % (_call(event, args[0]), refusal)
                _say(what)
                raise PermissionError(errno.EPERM, "%s refused: %s" % (_call(event, args[0]), refusal))
            _say("%s: a ukernel worker cannot %s (seccomp); list the programs it may run in ukernel.toml "
                 "([caps] subprocess), or start another task with ukernel.task_spawn"
                 % (_call(event, *(args[:1] if event != "os.fork" else ())), process[event]))
        elif event in writes and not (args and inside_writable(args[0])):
            _say("%s: the worker's filesystem is read-only; write files through the IO capability"
                 % _call(event, *args[:1]))
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            if event == "os.kill" and args and args[0] == own:
                return
            if event == "signal.pthread_kill" or programs is not None:  # (the process variant: its children)
                return
            _say("%s: a ukernel worker may signal only itself" % _call(event, *args[:2]))

    sys.addaudithook(hook)


#: The audit events that run a program, with the program as their first argument (os.system: the shell).
RUNS = ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.system")


def program_refusal(program, programs, env=None, not_in_force=None):
    """None when ``program`` (as given to ``execve``: a path, or a name looked up on ``PATH`` of ``env`` or of this
    process) is one of ``programs`` (real paths; None: the task may run none), else why not and what to add."""
    if isinstance(program, bytes):
        program = os.fsdecode(program)
    if not isinstance(program, (str, os.PathLike)):
        return None
    program = os.fspath(program)
    name = os.path.basename(program) or program
    listed = "[caps] subprocess = [\"%s\"]" % (program if program.startswith("/") else name)
    if programs is None and not_in_force:
        return not_in_force
    if programs is None:
        return ("this task may not run programs; list it in ukernel.toml: %s (absolute path, or a name found on "
                "the kernel's PATH)" % listed)
    allowed = frozenset(programs)
    if "/" in program:
        candidates = [program if program.startswith("/") else os.path.join(os.getcwd(), program)]
    else:
        try:
            search = os.get_exec_path(env) if isinstance(env, dict) else os.get_exec_path()
        except (TypeError, ValueError):
            search = os.get_exec_path()
        candidates = [os.path.join(d or ".", program) for d in search]
    for c in candidates:  # the first that exists is what execve runs
        try:
            if os.path.isfile(c):
                if os.path.realpath(c) in allowed:
                    return None
                break
        except (OSError, ValueError):
            continue
    return ("%r is not among the programs this task may run (%s); add it in ukernel.toml: %s"
            % (program, ", ".join(sorted(allowed)) or "none", listed))


def _call(name, *args):
    return "%s(%s)" % (name, ", ".join(repr(a) for a in args))


def _guard_sockets():
    """``socket.socket()`` failing with EPERM raises a PermissionError that names the NET capability."""
    import _socket

    def guarded_init(init):
        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
            try:
                init(self, family, type, proto, fileno)
            except PermissionError as e:
                if fileno is not None:
                    raise
                what = "socket(%s, %s)" % (_name(_socket, "AF_", family), _name(_socket, "SOCK_", type))
                _say("%s: %s" % (what, SOCKET_MESSAGE))
                raise PermissionError(e.errno, "%s refused: %s" % (what, SOCKET_MESSAGE)) from None
        return __init__

    mod = sys.modules.get("socket")
    if mod is not None and isinstance(getattr(mod, "socket", None), type):
        mod.socket.__init__ = guarded_init(mod.socket.__init__)
        return
    base = _socket.socket

    class socket(base):  # what socket.py subclasses when it is imported later
        __slots__ = ()
        __init__ = guarded_init(base.__init__)

    socket.__module__ = "_socket"
    _socket.socket = socket
    _socket.SocketType = socket


def _name(mod, prefix, value):
    if value == -1:
        return {"AF_": "AF_INET", "SOCK_": "SOCK_STREAM"}[prefix]
    value &= ~(getattr(mod, "SOCK_NONBLOCK", 0) | getattr(mod, "SOCK_CLOEXEC", 0)) if prefix == "SOCK_" else value
    for k in dir(mod):
        if k.startswith(prefix) and getattr(mod, k) == value:
            return k
    return str(value)
