"""The worker's seccomp-bpf filter: one declaration of the x86_64 system calls a confined worker may make, and the
classic-BPF program built from it. Stdlib only, no ``ctypes`` here: ``_confine._seccomp`` installs the program.

The filter is an **allow-list**. :data:`ALLOWED` names every call a worker may make, with its number and, where a
call is only safe with some arguments, its :class:`Rule`. Anything else is refused with ``SECCOMP_RET_ERRNO``:

* ``EPERM`` for every number this declaration knows (:data:`LAST_KNOWN` and below): a refusal, which Python raises
  as ``PermissionError`` and which nobody retries with another call;
* ``ENOSYS`` for ``clone3`` and ``openat2`` (:data:`ENOSYS_CALLS`) and for every number above :data:`LAST_KNOWN`:
  libc reads ``ENOSYS`` as "this kernel is too old" and falls back to the older call (``clone3`` -> ``clone``,
  whose flags the filter can read; ``openat2`` -> ``openat``, whose mode it can read; a future call -> the call it replaces, which is either listed here or refused with EPERM);
* a call whose argument rule fails is refused with ``EPERM``.

Before the numbers, the program checks the architecture (a call from a foreign ABI, e.g. 32-bit ``int 0x80``,
**kills** the process: its numbers mean other calls) and refuses every x32 call (``nr >= 0x40000000``: the same
arch value, other numbers) with ``EPERM``.

Argument checks read only the low 32 bits of an argument where the kernel itself truncates it to an ``int`` (pids,
``prctl`` options, ``ioctl`` requests, ``fcntl`` commands, ``clone`` flags, socket families), and both halves where
it is a pointer (:class:`Null`). Pointed-to memory (``sendmsg``'s address, ``prlimit64``'s new limit, ``clone3``'s
arguments) is out of a seccomp filter's reach: see each rule's note.

Extending: add the call to its family in :data:`ALLOWED` with its number (``arch/x86/entry/syscalls/syscall_64.tbl``)
and, when some arguments would reach outside the worker, a rule; then regenerate the table in docs/confinement.md
(``python3 -m ukernel._seccomp --markdown``; ``tests/test_seccomp.py`` fails while the two differ).
"""

import sys

# <linux/seccomp.h>, <linux/audit.h>, <linux/filter.h>
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_USER_NOTIF = 0x7FC00000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
EPERM = 1
ENOSYS = 38

BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_ALU_AND_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K
SECCOMP_DATA_NR = 0
SECCOMP_DATA_ARCH = 4
SECCOMP_DATA_ARGS = 16  # args[i] at 16 + 8 * i, little-endian: low word first

#: The highest x86_64 number this declaration was written against (Linux 6.18: ``file_setattr``). Numbers above
#: it are calls newer than the declaration: refused with ENOSYS so libc falls back.
LAST_KNOWN = 469

# <linux/sched.h>
CLONE_THREAD = 0x00010000
CLONE_NEW = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
             "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
             "CLONE_NEWNET": 0x40000000}
CLONE_PTRACE = 0x00002000
CLONE_VFORK = 0x00004000
CLONE_PARENT = 0x00008000
CLONE_UNTRACED = 0x00800000
CLONE_FORBIDDEN = sum(CLONE_NEW.values()) | CLONE_PTRACE | CLONE_VFORK | CLONE_PARENT | CLONE_UNTRACED

# <linux/socket.h>, <linux/net.h>
AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10
SOCK_STREAM = 1
SOCK_NONBLOCK = 0o4000
SOCK_CLOEXEC = 0o2000000

# <linux/prctl.h>: the options a worker may use; everything else (PR_SET_PDEATHSIG, PR_SET_DUMPABLE,
# PR_SET_SECCOMP, PR_SET_PTRACER, PR_SET_MM, PR_CAP_AMBIENT, PR_SET_CHILD_SUBREAPER, ...) is refused.
PRCTL_OPTIONS = {
    "PR_GET_PDEATHSIG": 2, "PR_GET_DUMPABLE": 3, "PR_GET_KEEPCAPS": 7, "PR_SET_NAME": 15, "PR_GET_NAME": 16,
    "PR_GET_SECCOMP": 21, "PR_CAPBSET_READ": 23, "PR_GET_TIMERSLACK": 30, "PR_GET_CHILD_SUBREAPER": 37,
    "PR_GET_NO_NEW_PRIVS": 39, "PR_SET_VMA": 0x53564D41,
}

# <asm-generic/ioctls.h>: the requests a worker may make; never TIOCSTI (typing into the host's terminal),
# TIOCSCTTY, TIOCSETD or any device-specific request.
IOCTL_REQUESTS = {
    "TCGETS": 0x5401, "TIOCGPGRP": 0x540F, "TIOCGWINSZ": 0x5413, "FIONREAD": 0x541B, "FIONBIO": 0x5421,
    "FIONCLEX": 0x5450, "FIOCLEX": 0x5451,
}

# <asm-generic/socket.h>: socket options that attach a BPF program; refused at every level.
SOCKET_FILTER_OPTIONS = {"SO_ATTACH_FILTER": 26, "SO_ATTACH_BPF": 50, "SO_ATTACH_REUSEPORT_CBPF": 51,
                         "SO_ATTACH_REUSEPORT_EBPF": 52}

# <sys/stat.h>: the set-ID bits of a mode. A file a worker creates in an rw preopen of a root kernel is root's on
# the host (an idmapped mount): with S_ISUID in open's mode it is a set-user-ID root program once it has content,
# and the root kernel writing it (io_write) keeps the bit (CAP_FSETID). Refused in the mode of open, openat, mkdir
# and mkdirat; openat2's mode is in memory, out of the filter's reach: it answers ENOSYS (libc falls back to openat).
SETID_BITS = {"S_ISUID": 0o4000, "S_ISGID": 0o2000}

# <linux/socket.h>: MSG_FASTOPEN makes a send on an unconnected TCP socket connect it (TCP Fast Open): a send that
# names a peer. Refused in sendto/sendmsg flags: a granted socket reaches its one peer only.
MSG_FASTOPEN = 0x20000000

# The socket options a worker may set (level -> name -> number), on the sockets it holds: its kernel connection,
# asyncio's self-pipe, and the host descriptors of granted TCP connections (ABI 1.1). What asyncio, aiohttp and
# common clients set on a connected stream; never SO_BINDTODEVICE/SO_BINDTOIFINDEX (another route), SO_MARK
# (policy routing), TCP_FASTOPEN/TCP_FASTOPEN_CONNECT (a send that connects), TCP_REPAIR* (rewriting a connection's
# sequence numbers and peer), TCP_ULP (kTLS: kernel attack surface), TCP_MD5SIG, IP_TRANSPARENT, nor a BPF filter.
SOL_SOCKET = 1
IPPROTO_IP = 0
IPPROTO_TCP = 6
IPPROTO_IPV6 = 41
SOCKET_OPTIONS = {
    SOL_SOCKET: {"SO_REUSEADDR": 2, "SO_SNDBUF": 7, "SO_RCVBUF": 8, "SO_KEEPALIVE": 9, "SO_OOBINLINE": 10,
                 "SO_LINGER": 13, "SO_RCVLOWAT": 18, "SO_SNDLOWAT": 19, "SO_RCVTIMEO": 20, "SO_SNDTIMEO": 21},
    IPPROTO_TCP: {"TCP_NODELAY": 1, "TCP_CORK": 3, "TCP_KEEPIDLE": 4, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 6,
                  "TCP_QUICKACK": 12, "TCP_USER_TIMEOUT": 18, "TCP_NOTSENT_LOWAT": 25},
    IPPROTO_IP: {"IP_TOS": 1},
    IPPROTO_IPV6: {"IPV6_TCLASS": 67},
}
LEVEL_NAMES = {SOL_SOCKET: "SOL_SOCKET", IPPROTO_TCP: "IPPROTO_TCP", IPPROTO_IP: "IPPROTO_IP",
               IPPROTO_IPV6: "IPPROTO_IPV6"}

# <linux/fcntl.h>: every command on the worker's own descriptors; never F_SETOWN/F_SETOWN_EX/F_SETSIG (SIGIO
# aimed at another process: a signal the kill rule never sees), F_NOTIFY (dnotify: watching host directories),
# F_SETLEASE (a lease blocks host processes opening the file), nor record locks (F_GETLK/F_SETLK/F_SETLKW and the
# F_OFD_* forms): every file a worker can open is a host inode (runtime, public data, bundle), and a read lock on
# one makes host writers that lock it fail or hang (F_GETLK would also name a host lock holder's pid). flock is
# refused for the same reason.
FCNTL_COMMANDS = {
    "F_DUPFD": 0, "F_GETFD": 1, "F_SETFD": 2, "F_GETFL": 3, "F_SETFL": 4, "F_DUPFD_CLOEXEC": 1030,
    "F_GETPIPE_SZ": 1032, "F_ADD_SEALS": 1033, "F_GET_SEALS": 1034,
}
# The record-lock commands, allowed only in the rw variant of the filter (see RW_VARIANT).
FCNTL_LOCKS = {"F_GETLK": 5, "F_SETLK": 6, "F_SETLKW": 7, "F_OFD_GETLK": 36, "F_OFD_SETLK": 37, "F_OFD_SETLKW": 38}


# <linux/fadvise.h>, <linux/fs.h>: page-cache advice and read flags that reach other processes' cache (every file a
# worker can open is a host inode): DONTNEED/NOREUSE drop a file's pages from the host's page cache, RWF_NOWAIT
# tells whether a page is cached (EAGAIN if not): together, the page-cache side channel.
FADVISE_REFUSED = {"POSIX_FADV_DONTNEED": 4, "POSIX_FADV_NOREUSE": 5}
RWF_REFUSED = {"RWF_NOWAIT": 0x00000008}


# -- argument rules ------------------------------------------------------------------------------------------------

class Rule:
    """A condition on a call's arguments. ``code(own_pid)`` returns instructions (``(code, jt, jf, k)`` where a
    jump target may be the label ``"deny"``) that fall through when the condition holds and jump to ``deny``
    otherwise."""

    note = ""

    def code(self, own_pid):
        raise NotImplementedError

    def text(self):
        raise NotImplementedError


def _lo(arg):
    return SECCOMP_DATA_ARGS + 8 * arg


def _hi(arg):
    return SECCOMP_DATA_ARGS + 8 * arg + 4


class OneOf(Rule):
    """``args[arg]`` (low 32 bits, as the kernel reads it) is one of ``values`` (a name -> number dict); the
    pseudo-value ``OWN_PID`` stands for the worker's pid at install time."""

    def __init__(self, arg, what, values, note=""):
        self.arg, self.what, self.values, self.note = arg, what, dict(values), note

    def resolved(self, own_pid):
        out = []
        for name, v in self.values.items():
            v = own_pid if v is OWN_PID else v
            if v is None:
                continue  # no pid known (tests of the table): the value matches nothing
            out.append(v & 0xFFFFFFFF)
        return out

    def code(self, own_pid):
        values = self.resolved(own_pid)
        prog = [(BPF_LD_W_ABS, 0, 0, _lo(self.arg))]
        if not values:
            return prog + [(BPF_JEQ_K, "deny", "deny", 0)]
        for i, v in enumerate(values):
            last = i == len(values) - 1
            # match: skip the remaining compares (fall through past them); no match on the last: deny
            prog.append((BPF_JEQ_K, len(values) - 1 - i, "deny" if last else 0, v))
        return prog

    def text(self):
        return "`%s` %s %s" % (self.what, "is" if len(self.values) == 1 else "one of",
                              ", ".join("`%s`" % k for k in self.values))


class _OwnPid:
    def __repr__(self):
        return "OWN_PID"


#: Stands for the worker's own pid (``getpid()`` when the filter is built: 1 in a PID namespace of its own).
OWN_PID = _OwnPid()


class NoneOf(OneOf):
    """``args[arg]`` (low 32 bits) is none of ``values``."""

    def code(self, own_pid):
        values = self.resolved(own_pid)
        prog = [(BPF_LD_W_ABS, 0, 0, _lo(self.arg))]
        return prog + [(BPF_JEQ_K, "deny", 0, v) for v in values]

    def text(self):
        return "`%s` is none of %s" % (self.what, ", ".join("`%s`" % k for k in self.values))


class Masked(OneOf):
    """``args[arg] & mask`` (low 32 bits) is one of ``values``."""

    def __init__(self, arg, what, mask, values, note=""):
        super().__init__(arg, what, values, note)
        self.mask = mask

    def code(self, own_pid):
        prog = super().code(own_pid)
        return prog[:1] + [(BPF_ALU_AND_K, 0, 0, self.mask)] + prog[1:]


class Flags(Rule):
    """``args[arg]`` (low 32 bits) has every bit of ``required`` and none of ``forbidden``."""

    def __init__(self, arg, what, required, forbidden, note=""):
        self.arg, self.what, self.required, self.forbidden, self.note = arg, what, required, forbidden, note

    def code(self, own_pid):
        return [(BPF_LD_W_ABS, 0, 0, _lo(self.arg)),
                (BPF_ALU_AND_K, 0, 0, self.required),
                (BPF_JEQ_K, 0, "deny", self.required),
                (BPF_LD_W_ABS, 0, 0, _lo(self.arg)),
                (BPF_JSET_K, "deny", 0, self.forbidden)]

    def text(self):
        if self.required == 0 and self.forbidden == CLONE_CHILD_FORBIDDEN:
            return "`%s` has none of `CLONE_NEW*`, `CLONE_PARENT`, `CLONE_PTRACE`, `CLONE_UNTRACED`" % self.what
        if self.required == CLONE_THREAD and self.forbidden == CLONE_FORBIDDEN:
            return "`%s` has `CLONE_THREAD` and none of `CLONE_NEW*`, `CLONE_PARENT`, `CLONE_PTRACE`, " \
                   "`CLONE_VFORK`, `CLONE_UNTRACED`" % self.what
        return "`%s` has `%#x` and none of `%#x`" % (self.what, self.required, self.forbidden)


class NoBits(Rule):
    """``args[arg]`` (low 32 bits) has none of the bits of ``bits`` (a name -> bit dict)."""

    def __init__(self, arg, what, bits, note=""):
        self.arg, self.what, self.bits, self.note = arg, what, dict(bits), note

    def code(self, own_pid):
        mask = 0
        for b in self.bits.values():
            mask |= b
        return [(BPF_LD_W_ABS, 0, 0, _lo(self.arg)), (BPF_JSET_K, "deny", 0, mask)]

    def text(self):
        return "`%s` has none of %s" % (self.what, ", ".join("`%s`" % k for k in self.bits))


class Pairs(Rule):
    """``(args[first], args[second])`` (low 32 bits each) is one of the pairs of ``table`` (first -> name ->
    second), e.g. a socket option's level and name."""

    def __init__(self, first, second, what, table, names, note=""):
        self.first, self.second, self.what, self.table, self.names, self.note = first, second, what, table, names, note

    def code(self, own_pid):
        prog = []
        for level, options in self.table.items():
            values = list(options.values())
            block = [(BPF_LD_W_ABS, 0, 0, _lo(self.second))]
            for i, v in enumerate(values):
                block.append((BPF_JEQ_K, "end", "deny" if i == len(values) - 1 else 0, v))
            prog += [(BPF_LD_W_ABS, 0, 0, _lo(self.first)), (BPF_JEQ_K, 0, len(block), level)] + block
        prog.append((BPF_JEQ_K, "deny", "deny", 0))  # no level matched
        end = len(prog)
        return [(code, end - i - 1 if jt == "end" else jt, jf, k) for i, (code, jt, jf, k) in enumerate(prog)]

    def text(self):
        return "(`%s`) is one of %s" % (self.what, "; ".join(
            "`%s`: %s" % (self.names[level], ", ".join("`%s`" % n for n in options))
            for level, options in self.table.items()))


class Null(Rule):
    """``args[arg]`` is 0 (all 64 bits: a NULL pointer)."""

    def __init__(self, arg, what, note=""):
        self.arg, self.what, self.note = arg, what, note

    def code(self, own_pid):
        return [(BPF_LD_W_ABS, 0, 0, _lo(self.arg)), (BPF_JEQ_K, 0, "deny", 0),
                (BPF_LD_W_ABS, 0, 0, _hi(self.arg)), (BPF_JEQ_K, 0, "deny", 0)]

    def text(self):
        return "`%s` is NULL" % self.what


class All(Rule):
    """Every rule holds."""

    def __init__(self, *rules, note=""):
        self.rules, self.note = rules, note

    def code(self, own_pid):
        return [i for r in self.rules for i in r.code(own_pid)]

    def text(self):
        return "; ".join(r.text() for r in self.rules)


# -- the declaration -----------------------------------------------------------------------------------------------

class Call:
    """One allowed system call: its name, x86_64 number, family, and argument rule (None: any arguments)."""

    __slots__ = ("name", "nr", "family", "rule")

    def __init__(self, name, nr, family, rule=None):
        self.name, self.nr, self.family, self.rule = name, nr, family, rule

    def __repr__(self):
        return "Call(%r, %d)" % (self.name, self.nr)


_SIGNAL_OWN = {"own pid": OWN_PID}

#: Families, in the order the documentation lists them: (name, why the worker needs them, ((call, nr, rule), ...)).
FAMILIES = (
    ("memory", "the worker's own address space; `PROT_EXEC` stays allowed: ctypes/libffi closures and JITs need it",
     (("mmap", 9), ("mprotect", 10), ("munmap", 11), ("brk", 12), ("mremap", 25), ("msync", 26),
      ("madvise", 28), ("memfd_create", 319))),
    ("descriptors", "read, write and manage descriptors the worker already holds (the kernel connection, pipes, "
     "files it opened under Landlock's read-only view)",
     (("read", 0), ("write", 1), ("close", 3), ("lseek", 8), ("pread64", 17), ("pwrite64", 18), ("readv", 19),
      ("writev", 20), ("pipe", 22), ("dup", 32), ("dup2", 33), ("sendfile", 40),
      ("fcntl", 72, OneOf(1, "cmd", FCNTL_COMMANDS,
                          note="`F_SETOWN`/`F_SETSIG` would aim SIGIO at another process, `F_NOTIFY` watches "
                               "host directories, `F_SETLEASE` blocks host openers, record locks "
                               "(`F_SETLK`, OFD locks) on host files block host writers")),
      ("fsync", 74), ("fdatasync", 75), ("ftruncate", 77),
      ("fadvise64", 221, NoneOf(3, "advice", FADVISE_REFUSED,
                                note="dropping a host file's pages from the host's page cache")),
      ("dup3", 292), ("pipe2", 293), ("preadv", 295), ("pwritev", 296),
      ("preadv2", 327, NoBits(5, "flags", RWF_REFUSED,
                              note="probing whether a host file's page is cached (the page-cache side channel)")),
      ("pwritev2", 328, NoBits(5, "flags", RWF_REFUSED, note="the same")), ("close_range", 436),
      ("ioctl", 16, OneOf(1, "request", IOCTL_REQUESTS,
                          note="`TIOCSTI` would type into the host's terminal; device requests reach drivers")))),
    ("files (read-only view)", "open and inspect paths; Landlock decides which (read-only beneath the runtime, the "
     "bundle and public data); nothing here changes a file's metadata",
     (("open", 2, NoBits(2, "mode", SETID_BITS,
                          note="a set-user-ID file made in a preopen: root's on the host (idmapped mount), and the "
                               "root kernel's `io_write` keeps the bit")), ("stat", 4), ("fstat", 5), ("lstat", 6), ("access", 21), ("getdents", 78), ("getcwd", 79),
      ("chdir", 80), ("fchdir", 81), ("readlink", 89), ("statfs", 137), ("fstatfs", 138), ("getdents64", 217),
      ("openat", 257, NoBits(3, "mode", SETID_BITS, note="the same")), ("newfstatat", 262), ("readlinkat", 267),
      ("faccessat", 269), ("statx", 332), ("faccessat2", 439))),
    ("names (Landlock decides)", "create and remove files and directories, rename them: Landlock handles each of "
     "these rights and grants them only beneath the task's writable trees (its `rw` preopens, `HOME`, the "
     "temporary directory); everywhere else they fail (`EACCES`, or `EROFS` on the read-only binds)",
     (("rename", 82), ("mkdir", 83, NoBits(1, "mode", SETID_BITS, note="a set-group-ID directory of root's group "
                                                                       "on the host")),
      ("rmdir", 84), ("unlink", 87), ("mkdirat", 258, NoBits(2, "mode", SETID_BITS, note="the same")),
      ("unlinkat", 263),
      ("renameat", 264), ("renameat2", 316))),
    ("waiting", "readiness and timers on the worker's own descriptors (selectors, asyncio, the kernel loop)",
     (("poll", 7), ("select", 23), ("epoll_create", 213), ("epoll_wait", 232), ("epoll_ctl", 233),
      ("pselect6", 270), ("ppoll", 271), ("epoll_pwait", 281), ("signalfd", 282), ("timerfd_create", 283),
      ("eventfd", 284), ("timerfd_settime", 286), ("timerfd_gettime", 287), ("signalfd4", 289), ("eventfd2", 290),
      ("epoll_create1", 291), ("epoll_pwait2", 441))),
    ("sockets held", "traffic on sockets the worker already holds; no call here creates a socket or names an "
     "address",
     (("sendto", 44, All(Null(4, "dest_addr"), NoBits(3, "flags", {"MSG_FASTOPEN": MSG_FASTOPEN}),
                         note="a datagram to a host socket's address (`send()` passes NULL); a send that connects "
                              "(TCP Fast Open) a socket to another peer")),
      ("recvfrom", 45),
      ("sendmsg", 46, NoBits(2, "flags", {"MSG_FASTOPEN": MSG_FASTOPEN},
                             note="a send that connects (TCP Fast Open); `msg_name` is out of the filter's reach "
                                  "and ignored by a connected stream (docs/confinement.md, \"Granted sockets\")")),
      ("recvmsg", 47), ("shutdown", 48), ("getsockname", 51),
      ("getpeername", 52), ("getsockopt", 55), ("recvmmsg", 299),
      ("setsockopt", 54, Pairs(1, 2, "level, optname", SOCKET_OPTIONS, LEVEL_NAMES,
                               note="another route for a granted socket (`SO_BINDTODEVICE`, `SO_MARK`), a send "
                                    "that connects (`TCP_FASTOPEN_CONNECT`), rewriting a connection "
                                    "(`TCP_REPAIR`), kTLS (`TCP_ULP`), a BPF program (`SO_ATTACH_*`)")),
      ("socketpair", 53, All(OneOf(0, "domain", {"AF_UNIX": AF_UNIX}),
                             Masked(1, "type", ~(SOCK_NONBLOCK | SOCK_CLOEXEC) & 0xFFFFFFFF,
                                    {"SOCK_STREAM": SOCK_STREAM}),
                             note="a datagram pair could `sendto()` a host socket's path; `SOCK_NONBLOCK` and "
                                  "`SOCK_CLOEXEC` may be added (asyncio's self-pipe)")))),
    ("threads", "threads of this process and their synchronisation",
     (("clone", 56, Flags(0, "flags", CLONE_THREAD, CLONE_FORBIDDEN,
                          note="a new process (fork, vfork, posix_spawn), namespace or traced child")),
      ("exit", 60), ("futex", 202), ("set_tid_address", 218), ("exit_group", 231), ("set_robust_list", 273),
      ("rseq", 334), ("sched_yield", 24), ("sched_getaffinity", 204), ("getcpu", 309))),
    ("signals", "the worker's own signal handling; a signal may target the worker itself only",
     (("rt_sigaction", 13), ("rt_sigprocmask", 14), ("rt_sigreturn", 15), ("pause", 34), ("getitimer", 36),
      ("alarm", 37), ("setitimer", 38), ("rt_sigpending", 127), ("rt_sigtimedwait", 128), ("rt_sigsuspend", 130),
      ("sigaltstack", 131), ("restart_syscall", 219),
      ("kill", 62, OneOf(0, "pid", _SIGNAL_OWN,
                         note="signals to the kernel or other processes; `kill(0)`/`kill(-1)` (groups)")),
      ("rt_sigqueueinfo", 129, OneOf(0, "tgid", _SIGNAL_OWN, note="a signal with data to another process")),
      ("tgkill", 234, OneOf(0, "tgid", _SIGNAL_OWN, note="a signal to a thread of another process")),
      ("rt_tgsigqueueinfo", 297, OneOf(0, "tgid", _SIGNAL_OWN, note="the same, with data")))),
    ("time", "clocks and sleeping (mostly served by the vDSO without a system call)",
     (("nanosleep", 35), ("gettimeofday", 96), ("time", 201), ("clock_gettime", 228), ("clock_getres", 229),
      ("clock_nanosleep", 230))),
    ("process information", "facts about the worker itself; nothing here changes another process",
     (("getpid", 39), ("uname", 63), ("umask", 95), ("getrlimit", 97), ("getrusage", 98), ("sysinfo", 99),
      ("times", 100), ("getuid", 102), ("getgid", 104), ("geteuid", 107), ("getegid", 108), ("getppid", 110),
      ("getgroups", 115), ("getresuid", 118), ("getresgid", 120), ("gettid", 186), ("getrandom", 318),
      ("prctl", 157, OneOf(0, "option", PRCTL_OPTIONS,
                           note="`PR_SET_PDEATHSIG` (outliving the kernel), `PR_SET_DUMPABLE`, `PR_SET_PTRACER`, "
                                "`PR_SET_SECCOMP`, `PR_SET_MM`, `PR_CAP_AMBIENT`, any option not listed")),
      ("prlimit64", 302, OneOf(0, "pid", {"0": 0, "own pid": OWN_PID},
                               note="re-limiting the kernel (`RLIMIT_CPU`: SIGXCPU) or any host process; on itself "
                                    "a worker can only lower a hard limit (`CAP_SYS_RESOURCE` is dropped)")))),
)

ALLOWED = tuple(sorted((Call(entry[0], entry[1], family, entry[2] if len(entry) > 2 else None)
                        for family, _, entries in FAMILIES for entry in entries), key=lambda c: c.nr))

#: Refused with ENOSYS (not EPERM) although known: libc falls back to a call the filter can check.
ENOSYS_CALLS = {"clone3": 435, "openat2": 437}

#: Notable calls the list leaves out, by class, with their numbers (the tests check each is refused; the
#: documentation says why). Any other unlisted call is refused the same way.
REFUSED = (
    ("processes and programs", "a worker is one process unless its manifest lists programs (`[caps] "
     "subprocess`: the process variant below; `execveat` stays refused); new tasks come from `task_spawn`",
     {"fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "wait4": 61, "waitid": 247, "setsid": 112,
      "setpgid": 109}),
    ("sockets and addresses", "the worker already holds its kernel connection; the network is the NET capability",
     {"socket": 41, "connect": 42, "accept": 43, "bind": 49, "listen": 50, "accept4": 288, "sendmmsg": 307}),
    ("file metadata and links", "Landlock covers contents and names, not metadata: a root worker could "
     "chmod/chown host files; a symbolic link made in a preopen could send a host program that follows it "
     "outside (`flock` is allowed in the rw variant)",
     {"chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "fchown": 93, "lchown": 94,
      "fchownat": 260, "utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280, "setxattr": 188,
      "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199,
      "getxattr": 191, "lgetxattr": 192, "fgetxattr": 193, "listxattr": 194, "llistxattr": 195,
      "flistxattr": 196, "setxattrat": 463, "removexattrat": 466, "link": 86, "linkat": 265,
      "symlink": 88, "symlinkat": 266, "mknod": 133, "mknodat": 259, "truncate": 76, "creat": 85,
      "fallocate": 285, "flock": 73, "file_setattr": 469}),
    ("watching files", "inotify and fanotify see host paths Landlock hides",
     {"inotify_init": 253, "inotify_add_watch": 254, "inotify_init1": 294, "fanotify_init": 300,
      "fanotify_mark": 301}),
    ("System V and POSIX IPC", "host-wide objects: another process's segment, queues that outlive the worker",
     {"shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
      "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "mq_open": 240,
      "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245}),
    ("other processes", "no reading, steering or re-limiting another process",
     {"ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "pidfd_open": 434,
      "pidfd_getfd": 438, "pidfd_send_signal": 424, "tkill": 200, "setpriority": 141, "sched_setaffinity": 203,
      "sched_setscheduler": 144, "sched_setparam": 142, "ioprio_set": 251, "process_madvise": 440,
      "process_mrelease": 448, "get_robust_list": 274, "migrate_pages": 256, "move_pages": 279,
      "setrlimit": 160}),
    ("namespaces, mounts, identity", "the worker's view and identity are fixed before the filter",
     {"unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
      "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
      "mount_setattr": 442, "setuid": 105, "setgid": 106, "setreuid": 113, "setregid": 114, "setresuid": 117,
      "setresgid": 119, "setgroups": 116, "setfsuid": 122, "setfsgid": 123, "capset": 126, "personality": 135}),
    ("kernel attack surface", "large interfaces a worker never needs; io_uring would also run its operations "
     "around this filter",
     {"bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
      "io_uring_register": 427, "keyctl": 250, "add_key": 248, "request_key": 249, "seccomp": 317,
      "splice": 275, "tee": 276, "vmsplice": 278, "memfd_secret": 447, "name_to_handle_at": 303,
      "open_by_handle_at": 304, "landlock_create_ruleset": 444, "arch_prctl": 158, "modify_ldt": 154,
      "lookup_dcookie": 212}),
    ("host administration", "",
     {"reboot": 169, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
      "delete_module": 176, "swapon": 167, "swapoff": 168, "acct": 163, "syslog": 103, "quotactl": 179,
      "iopl": 172, "ioperm": 173, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305,
      "adjtimex": 159, "sethostname": 170, "setdomainname": 171, "vhangup": 153, "uselib": 134, "sync": 162,
      "syncfs": 306}),
)

#: The rw variant: a task whose app declares an ``rw`` preopen gets these rules instead (``build_filter(...,
#: writable=True)``): record locks and ``flock``, which SQLite and lock-file libraries need on the files they write.
#: The price: such a task can also lock the host files of its read-only view (see FCNTL_COMMANDS).
RW_VARIANT = (
    ("fcntl", 72, OneOf(1, "cmd", dict(FCNTL_COMMANDS, **FCNTL_LOCKS),
                        note="as without the variant, record locks (`F_GETLK`/`F_SETLK`/`F_SETLKW`, OFD) added")),
    ("flock", 73),
)


#: The process variant: a task whose manifest lists programs (``[caps] subprocess``) and that runs in a pid
#: namespace of its own gets these rules too (``build_filter(..., processes=True)``): new processes and ``execve``.
#: What a child may run is Landlock's matter (``LANDLOCK_ACCESS_FS_EXECUTE`` on the listed programs only; ``execveat``
#: stays refused: no ``fexecve`` of a memfd or of a descriptor); every child inherits this filter, the Landlock
#: domain, the namespaces and ``RLIMIT_NPROC``. Signals and pidfds may name any pid: in the worker's pid namespace the
#: only pids are the task's own processes (without one the variant is never used).
# <asm/prctl.h>: the arch_prctl codes a freshly executed program's dynamic loader uses (the thread pointer).
ARCH_PRCTL_CODES = {"ARCH_SET_FS": 0x1002, "ARCH_GET_FS": 0x1003}
CLONE_CHILD_FORBIDDEN = sum(CLONE_NEW.values()) | CLONE_PTRACE | CLONE_PARENT | CLONE_UNTRACED
PROCESS_VARIANT = (
    ("clone", 56, Flags(0, "flags", 0, CLONE_CHILD_FORBIDDEN,
                        note="as without the variant, a new process (fork, vfork, posix_spawn) added; never a "
                             "namespace, a traced child or a sibling (`CLONE_PARENT`: a child the worker's "
                             "supervisor would not reap)")),
    ("fork", 57), ("vfork", 58), ("execve", 59), ("wait4", 61), ("waitid", 247), ("setsid", 112),
    ("setpgid", 109), ("getpgid", 121), ("getsid", 124), ("pidfd_open", 434), ("pidfd_send_signal", 424),
    ("kill", 62), ("tgkill", 234), ("rt_sigqueueinfo", 129), ("rt_tgsigqueueinfo", 297),
    ("arch_prctl", 158, OneOf(0, "code", ARCH_PRCTL_CODES,
                              note="every other code (`ARCH_SET_GS`, CPUID faulting, shadow stack and AMX "
                                   "switches); the dynamic loader of a new program sets its thread pointer")),
)


#: The notify variant: a worker whose kernel supervises its sockets (``UKERNEL_SOCKETS=notify``: a root kernel on
#: the process platform) may create TCP sockets of its own, and its ``connect``, ``bind``, ``listen`` and ``accept``
#: are not refused but handed to the kernel as seccomp user notifications (``SECCOMP_RET_USER_NOTIF``): the kernel reads
#: the address from the worker's memory, checks it against ``[caps.net]``, performs the call on a socket of its own
#: and puts that socket in place of the worker's descriptor (docs/confinement.md, "Sockets the worker makes").
#: A socket made here reaches nothing by itself: every call that names an address is the kernel's.
NOTIFY_VARIANT = (
    ("socket", 41, All(OneOf(0, "domain", {"AF_INET": AF_INET, "AF_INET6": AF_INET6}),
                       Masked(1, "type", ~(SOCK_NONBLOCK | SOCK_CLOEXEC) & 0xFFFFFFFF, {"SOCK_STREAM": SOCK_STREAM}),
                       OneOf(2, "protocol", {"0": 0, "IPPROTO_TCP": IPPROTO_TCP}),
                       note="a datagram, raw, packet or Unix socket; a TCP socket is harmless until it is bound or "
                            "connected, and those are the kernel's")),
)
#: Answered by the kernel (``SECCOMP_RET_USER_NOTIF``) in the notify variant; refused (EPERM) otherwise.
NOTIFY_CALLS = {"connect": 42, "accept": 43, "bind": 49, "listen": 50, "accept4": 288}


class Positive(Rule):
    """``args[arg]`` (low 32 bits, an ``int`` pid) is above 0: one process, never a group (``0``, ``-pgid``) nor
    every process (``-1``)."""

    def __init__(self, arg, what, note=""):
        self.arg, self.what, self.note = arg, what, note

    def code(self, own_pid):
        return [(BPF_LD_W_ABS, 0, 0, _lo(self.arg)), (BPF_JSET_K, "deny", 0, 0x80000000),
                (BPF_JEQ_K, "deny", 0, 0)]

    def text(self):
        return "`%s` > 0 (one process)" % self.what


#: The template variant (``build_filter(..., template=True)``): the filter of a warm template (``_template``), a
#: process that has imported the app under the sandbox and forks the app's workers. Added to the allow-list: a plain
#: fork (no new namespace, not traced) and reaping its children; signals to one process by pid (the template's
#: children have pids of their own: a signal rule of the template's own pid would, stacked, refuse a child's signals
#: to itself; groups and -1 stay refused); and the calls that confine further (``seccomp`` filters and a Landlock
#: layer only ever take rights away), with which each child installs its final confinement: the filter without this
#: variant, own pid and all, and its own Landlock layer. ``prlimit64`` on pid 0 only. Never combined with the
#: process variant (an app that runs programs is not templated); with the notify variant, the template closes its
#: listener at once (its own connect, bind, listen and accept then fail with ENOSYS) and each child installs a
#: notify filter of its own whose listener goes to the child's kernel.
TEMPLATE_VARIANT = (
    ("clone", 56, Flags(0, "flags", 0, CLONE_CHILD_FORBIDDEN,
                        note="a namespace, traced or sibling child; a thread or a plain fork is allowed")),
    ("wait4", 61), ("waitid", 247),
    ("kill", 62, Positive(0, "pid", note="signals to groups (`kill(0)`, `kill(-pgid)`) or every process")),
    ("rt_sigqueueinfo", 129, Positive(0, "tgid", note="the same")),
    ("tgkill", 234, Positive(0, "tgid", note="the same")),
    ("rt_tgsigqueueinfo", 297, Positive(0, "tgid", note="the same")),
    ("prlimit64", 302, OneOf(0, "pid", {"0": 0}, note="re-limiting another process")),
    ("seccomp", 317, OneOf(0, "operation", {"SECCOMP_SET_MODE_FILTER": 1},
                           note="anything but adding a filter (which only ever refuses more)")),
    ("landlock_create_ruleset", 444), ("landlock_add_rule", 445), ("landlock_restrict_self", 446),
)


def calls(writable=False, processes=False, notify=False, template=False):
    """The allowed calls, by number: :data:`ALLOWED`, with :data:`RW_VARIANT` when ``writable``,
    :data:`PROCESS_VARIANT` when ``processes``, :data:`NOTIFY_VARIANT` when ``notify`` and
    :data:`TEMPLATE_VARIANT` when ``template``."""
    if not writable and not processes and not notify and not template:
        return ALLOWED
    over = {}
    for on, family, variant in ((writable, "rw variant", RW_VARIANT), (processes, "process variant",
                                                                       PROCESS_VARIANT),
                                (notify, "notify variant", NOTIFY_VARIANT),
                                (template, "template variant", TEMPLATE_VARIANT)):
        if on:
            over.update({e[0]: Call(e[0], e[1], family, e[2] if len(e) > 2 else None) for e in variant})
    return tuple(sorted([c for c in ALLOWED if c.name not in over] + list(over.values()), key=lambda c: c.nr))


#: Every x86_64 number this module names (allowed, ENOSYS, refused), for ``_confine`` and the tests.
X86_64 = {c.name: c.nr for c in ALLOWED}
X86_64.update(ENOSYS_CALLS)
for _, _, _calls in REFUSED:
    X86_64.update(_calls)
del _calls


def argument_checks():
    """The allowed calls with an argument rule."""
    return [c for c in ALLOWED if c.rule is not None]


# -- the program ---------------------------------------------------------------------------------------------------

def build_filter(own_pid, arch=AUDIT_ARCH_X86_64, writable=False, processes=False, notify=False, template=False):
    """The seccomp program, as ``(code, jt, jf, k)`` tuples. ``own_pid``: the pid signals and ``prlimit64`` may
    target (the worker's ``getpid()`` when the filter is installed; ``None`` in tests: no pid matches).
    ``writable``: the rw variant (:data:`RW_VARIANT`), for a task with an ``rw`` preopen; ``processes``: the
    process variant (:data:`PROCESS_VARIANT`), for a task that may run programs; ``notify``: the notify variant
    (:data:`NOTIFY_VARIANT`, :data:`NOTIFY_CALLS`), installed with a listener the kernel takes; ``template``: the
    template variant (:data:`TEMPLATE_VARIANT`), for a warm template."""
    eperm = SECCOMP_RET_ERRNO | EPERM
    enosys = SECCOMP_RET_ERRNO | ENOSYS
    prog = [
        (BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_ARCH),
        (BPF_JEQ_K, 1, 0, arch),
        (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        (BPF_LD_W_ABS, 0, 0, SECCOMP_DATA_NR),
        (BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),  # x32 calls share the arch value: refuse every one
        (BPF_RET_K, 0, 0, eperm),
    ]
    for call in calls(writable, processes, notify, template):
        if call.rule is None:
            prog += [(BPF_JEQ_K, 0, 1, call.nr), (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)]
            continue
        block = _resolve(call.rule.code(own_pid) + [(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)], deny_ret=eperm)
        if len(block) > 255:
            raise ValueError("the rule of %s is too long for one BPF jump (%d instructions)" % (call.name, len(block)))
        prog += [(BPF_JEQ_K, 0, len(block), call.nr)] + block
    for nr in sorted(ENOSYS_CALLS.values()):
        prog += [(BPF_JEQ_K, 0, 1, nr), (BPF_RET_K, 0, 0, enosys)]
    for nr in sorted(NOTIFY_CALLS.values()) if notify else ():
        prog += [(BPF_JEQ_K, 0, 1, nr), (BPF_RET_K, 0, 0, SECCOMP_RET_USER_NOTIF)]
    prog += [(BPF_JGE_K, 0, 1, LAST_KNOWN + 1), (BPF_RET_K, 0, 0, enosys), (BPF_RET_K, 0, 0, eperm)]
    if len(prog) > 4096:  # BPF_MAXINSNS
        raise ValueError("the seccomp program has %d instructions (the kernel takes 4096)" % len(prog))
    return prog


def _resolve(block, deny_ret):
    """Appends the deny return and turns each ``"deny"`` jump target into its offset."""
    block = list(block) + [(BPF_RET_K, 0, 0, deny_ret)]
    deny = len(block) - 1
    out = []
    for i, (code, jt, jf, k) in enumerate(block):
        jt = deny - i - 1 if jt == "deny" else jt
        jf = deny - i - 1 if jf == "deny" else jf
        out.append((code, jt, jf, k))
    return out


# -- the documentation table ---------------------------------------------------------------------------------------

def markdown():
    """The per-call tables of docs/confinement.md, generated from the declaration."""
    lines = ["| family | allowed calls | why |", "|---|---|---|"]
    for family, why, entries in FAMILIES:
        names = ", ".join("`%s`%s" % (e[0], "\\*" if len(e) > 2 else "") for e in sorted(entries, key=lambda e: e[1]))
        lines.append("| %s | %s | %s |" % (family, names, why))
    lines += ["", "| \\* argument check | allowed only when | what it stops |", "|---|---|---|"]
    for c in sorted(argument_checks(), key=lambda c: c.name):
        lines.append("| `%s` | %s | %s |" % (c.name, c.rule.text(), c.rule.note or "-"))
    lines += ["", "| rw variant (a task whose app declares an `rw` preopen) | allowed when | why |", "|---|---|---|"]
    for e in RW_VARIANT:
        lines.append("| `%s` | %s | %s |" % (e[0], e[2].text() if len(e) > 2 else "any arguments",
                                           (e[2].note if len(e) > 2 else "") or "SQLite and lock files on the "
                                           "files the task writes; it can also lock files of its read-only view"))
    lines += ["", "| process variant (`[caps] subprocess` lists programs; the worker has its own pid namespace) | "
              "allowed when | why |", "|---|---|---|"]
    for e in PROCESS_VARIANT:
        lines.append("| `%s` | %s | %s |" % (e[0], e[2].text() if len(e) > 2 else "any arguments",
                                           (e[2].note if len(e) > 2 else "") or "the task's own children: in its "
                                           "pid namespace no other process exists"))
    lines += ["", "| notify variant (`UKERNEL_SOCKETS=notify`: a root kernel, a task whose ceiling holds NET) | allowed when | why |", "|---|---|---|"]
    for e in NOTIFY_VARIANT:
        lines.append("| `%s` | %s | %s |" % (e[0], e[2].text(), e[2].note))
    for name in sorted(NOTIFY_CALLS, key=NOTIFY_CALLS.get):
        lines.append("| `%s` | the kernel decides (`SECCOMP_RET_USER_NOTIF`) | it copies the address, checks "
                     "`[caps.net]`, performs the call on a socket of its own and puts that in place of the "
                     "worker's |" % name)
    lines += ["", "| template variant (a warm template of the resident host, docs/host.md) | allowed when | why |",
              "|---|---|---|"]
    for e in TEMPLATE_VARIANT:
        lines.append("| `%s` | %s | %s |" % (e[0], e[2].text() if len(e) > 2 else "any arguments",
                                           (e[2].note if len(e) > 2 else "") or "forking and reaping the app's "
                                           "workers, and each worker's final confinement (its own Landlock layer "
                                           "and filter: both only take rights away)"))
    lines += ["", "| refused (EPERM), notably | calls | why |", "|---|---|---|"]
    for family, why, calls in REFUSED:
        lines.append("| %s | %s | %s |" % (family, ", ".join("`%s`" % n for n in sorted(calls, key=calls.get)),
                                          why or "-"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        sys.stdout.write(markdown())
    else:
        print("%d calls allowed, %d argument checks, %d instructions" % (
            len(ALLOWED), len(argument_checks()), len(build_filter(own_pid=1))))
