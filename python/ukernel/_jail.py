"""The worker's own namespaces and identity: what the loader does after ``hello`` and before ``_confine``.

The loader process (the kernel's child, called **P** here) calls :func:`isolate`. With namespaces in force:

1. while the host's view is still whole, it lists what the worker may see (:func:`view`: the Python runtime, the
   directories of the shared objects already mapped, the platform's library directories, a few public data files,
   the bundle — the same list Landlock allows) and opens each with ``O_PATH``, so the bind mounts below can name
   them even where the new root's tmpfs hides their host path;
2. ``unshare(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWNET|CLONE_NEWUTS)`` — plus ``CLONE_NEWUSER`` when the
   kernel is not root, with P's own uid/gid mapped to the worker id (``setgroups`` denied first);
3. a **minimal root**: ``/`` made recursively private (nothing propagates back to the host), a small tmpfs, each
   listed path bind-mounted at its own absolute path and remounted read-only, nosuid, nodev (flags the host mount
   already had, such as noexec, are kept: a user namespace may not clear them); the symbolic links on those paths
   (``/lib -> usr/lib``, ``/etc/localtime``) recreated; ``/dev`` with only ``null``, ``zero``, ``random`` and
   ``urandom``; **no /proc** (Landlock would refuse every read of it anyway, and a proc mount is a large kernel
   surface: ``/proc/sys``, ``/proc/sysrq-trigger``, other tasks' files); hostname ``ukernel`` in the new UTS
   namespace; ``pivot_root`` onto it, the old root detached, the new root remounted read-only;
4. ``fork()``: the child **C** is PID 1 of the new pid namespace and runs the app. P never returns from
   :func:`isolate`: it closes its copy of the kernel connection (the kernel must see EOF when C exits), forwards
   SIGTERM, SIGINT and SIGHUP to C, and exits with C's status (``n`` for exit ``n``, ``128 + s`` for a signal).
   P blocks these signals from before the fork and takes them with ``sigwaitinfo``, never through handlers: a
   signal sent at any moment is forwarded (none ends P early, none waits behind a blocking call).

Death: P keeps ``PR_SET_PDEATHSIG`` with the kernel, but with a signal it takes (SIGUSR1): on it P SIGKILLs C,
and C being the namespace's init, the host kernel then kills every process of the task. So a task that clears its
own death signal still dies with the kernel (P is out of its reach: another pid namespace and uid). C also sets
``PR_SET_PDEATHSIG(SIGKILL)`` itself, for a P killed outright (the kernel's ``kill``, which also kills C first).

Identity (:func:`drop_identity`, in C): the capability bounding set is emptied, then ``setgroups([])``,
``setresgid``, ``setresuid`` to the **worker id** the kernel chose (``UKERNEL_WORKER_ID``: 2 000 000 000 + ...,
see ``ProcessPlatform``) when the kernel is root; in a user namespace the worker already is that id. Then
``PR_SET_DUMPABLE`` 0 and the death signal again (a change of uid clears it). ``_confine`` follows (no_new_privs,
Landlock, seccomp).

Without namespaces (``off``, or ``auto`` on a host that refuses them) there is no fork: the same process drops its
identity, after checking the worker id can read the runtime and the bundle (a 0700 ``/root`` above a pyenv
interpreter would break every later import otherwise: the error says so).

Stdlib only (``ctypes``); Linux.
"""

import _signal
import errno
import os
import sys

from ._confine import DEVICES as _DEVICE_RIGHTS, _c, _prctl  # one libc binding for the loader's host calls

# <linux/sched.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
# <linux/mount.h>
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_MOVE = 8192
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
# statvfs f_flag bits (ST_*) and the mount flag each one must be kept as on a remount
_ST_TO_MS = ((1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME),
             (2048, MS_NODIRATIME), (4096, MS_RELATIME))
# <linux/prctl.h>
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
SYS_PIVOT_ROOT = 155  # x86_64
SYS_UNSHARE = 272  # x86_64
SYS_OPEN_TREE = 428  # x86_64
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442
# <linux/mount.h>
OPEN_TREE_CLONE = 1
AT_EMPTY_PATH = 0x1000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_IDMAP = 0x00100000

#: The worker ids the kernel hands out when it runs as root: above every common allocation (system and login
#: users < 65536, the subordinate ids tools give users from 100000, systemd's container range 524288-1879048191),
#: below 2**32 - 1 ((uid_t) -1 means "unchanged" to setresuid).
WORKER_ID_MIN = 2_000_000_000
WORKER_ID_MAX = 4_294_967_294

NAMESPACES = ("mount", "pid", "ipc", "net", "uts")

# What P waits for after the fork: the signals it forwards to C, its death signal (the kernel died), C's exit.
_SUPERVISED = {_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGUSR1, _signal.SIGCHLD}
HOSTNAME = b"ukernel"
DEVICES = tuple(_DEVICE_RIGHTS)  # the devices Landlock lets the worker open (_confine.DEVICES)
#: Top-level links a merged-/usr system resolves library paths through (ld.so.cache names /lib/x86_64-linux-gnu).
ROOT_LINKS = ("/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
TMPFS_OPTIONS = b"mode=0755,size=2m,nr_inodes=4096"
#: RLIMIT_NPROC of a root kernel's worker: its threads (each a host pid, which the pid namespace hides but does not
#: count). The worker id is its own, so the limit counts exactly its threads; without it one worker could take
#: every pid of the host (pid_max is 32768 on small hosts) and no host process could fork.
MAX_THREADS = 1024


class JailError(Exception):
    """A step failed: the worker must not run the app's code (the process may be half isolated)."""


class Unavailable(Exception):
    """The host refuses the namespaces themselves (``unshare`` failed before anything changed): under ``auto``
    the worker runs without them and says why."""


class Jail:
    """What :func:`isolate` applied, for the ``ukernel: confined: ...`` line."""

    def __init__(self):
        self.namespaces = []  # e.g. ["user", "mount", "pid", "ipc", "net", "uts"]
        self.why_not = None  # why there are none, when there are none
        self.binds = 0
        self.uid = None
        self.gid = None
        self.alive_fd = None  # in C: the read end of P's pipe (EOF once P is gone)
        self.task = None  # the _environ.TaskView built into the view (preopens, tmpfs, /etc)

    def text(self):
        if self.namespaces:
            extra = ""
            if self.task is not None and self.task.namespaced:
                pre = self.task.present()
                extra = ", %s, /tmp and HOME on a %d KiB tmpfs, /etc generated" % (
                    "preopens " + " ".join("%s(%s)" % (p.name, "rw" if p.writable else "ro") for p in pre)
                    if pre else "no preopens", self.task.tmp_bytes // 1024)
            ns = "namespaces %s (minimal root: %d read-only binds, no /proc%s%s)" % (
                "+".join(self.namespaces), self.binds, ", moved over the initramfs" if _SWITCHED else "", extra)
        else:
            ns = "namespaces none (%s)" % self.why_not
        return "%s, uid %s gid %s (no groups, empty capability bounding set, not dumpable)" % (ns, self.uid, self.gid)


# -- host access ---------------------------------------------------------------------------------------------------

def _fail(what, cls=JailError):
    ctypes, _ = _c()
    err = ctypes.get_errno()
    raise cls("%s failed: %s (errno %d)" % (what, os.strerror(err), err))


def _check(result, what):
    if result < 0:
        _fail(what)
    return result


def _mount(source, target, fstype, flags, data=None):
    ctypes, lib = _c()
    enc = (lambda s: None if s is None else (s if isinstance(s, bytes) else os.fsencode(s)))
    r = lib.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))
    if r < 0:
        _fail("mount(%s on %s)" % (source, target))


def _unshare(flags):
    ctypes, lib = _c()
    if lib.syscall(ctypes.c_long(SYS_UNSHARE), ctypes.c_long(flags)) < 0:
        _fail("unshare(%#x)" % flags, Unavailable)


def death_signal(sig):
    """``PR_SET_PDEATHSIG``: ``sig`` when our parent dies."""
    _check(_prctl(PR_SET_PDEATHSIG, sig), "prctl(PR_SET_PDEATHSIG)")


# -- what the worker sees --------------------------------------------------------------------------------------------

def view(bundle, programs=()):
    """``(paths, links)``: the real paths the worker may read (``_confine.read_paths``, which Landlock allows too)
    and the symbolic links on the way to them, ``{link: target}``, to recreate in the new root. ``programs``: the
    ``[caps] subprocess`` files and the shared libraries they need as ``(path as listed or found, real path)``
    pairs: each real file is bound too (unless a bound directory holds it already), and the links from the listed
    path to it are recreated."""
    from . import _confine

    paths = _confine.read_paths(bundle)
    dirs = [p for p in paths if os.path.isdir(p)]
    for _, real in programs:
        if real not in paths and not any(real.startswith(d.rstrip("/") + "/") for d in dirs):
            paths.append(real)
    raw = [sys.executable or "", sys.prefix, sys.base_prefix, bundle] + list(_confine.DATA_PATHS)
    raw += [listed for listed, _ in programs]
    raw += [p for p in ROOT_LINKS]
    multiarch = getattr(sys.implementation, "_multiarch", None)
    if multiarch:
        raw += ["/lib/" + multiarch, "/usr/lib/" + multiarch]
    return paths, symlinks_on(raw)


def symlinks_on(paths):
    """Every symbolic link met while resolving ``paths`` (absolute), as ``{link path: its target}``."""
    links = {}
    todo = [p for p in paths if p and p.startswith("/")]
    seen = 0
    while todo and seen < 256:
        seen += 1
        path = todo.pop()
        cur = ""
        parts = [x for x in path.split("/") if x]
        for i, part in enumerate(parts):
            cur = cur + "/" + part
            if os.path.islink(cur):
                target = os.readlink(cur)
                links[cur] = target
                resolved = target if target.startswith("/") else os.path.join(os.path.dirname(cur), target)
                todo.append(os.path.normpath(resolved + "/" + "/".join(parts[i + 1:])))
                break
    return links


def readable_by(path, uid, gid):
    """None when ``uid``/``gid`` (no supplementary groups) can reach and read ``path``, else the first ancestor
    that stops it, with its mode. Root's permission shortcuts are not assumed."""
    cur = "/"
    parts = [x for x in os.path.realpath(path).split("/") if x]
    for i in range(len(parts) + 1):
        try:
            st = os.stat(cur)
        except OSError:
            return cur
        last = i == len(parts)
        need = 0o4 if last and not os.path.isdir(cur) else (0o5 if last else 0o1)
        shift = 6 if st.st_uid == uid else (3 if st.st_gid == gid else 0)
        if (st.st_mode >> shift) & need != need:
            return "%s (mode %04o, owner %d)" % (cur, st.st_mode & 0o7777, st.st_uid)
        if not last:
            cur = os.path.join(cur, parts[i])
    return None


# -- the steps -------------------------------------------------------------------------------------------------------

def isolate(bundle, namespaces, worker_id, kernel_fd, kernel_pid, on_child=None, task=None):
    """Isolates the worker; returns a :class:`Jail` in the process that will run the app (C, or this process
    without namespaces). ``namespaces``: ``auto``, ``on`` or ``off``. ``worker_id``: the uid/gid to run as.
    ``kernel_fd``: the kernel connection, closed in P. ``on_child``: called first thing in C (the loader restores
    its process-wide client there). ``task``: the :class:`_environ.TaskView` to build into the view (preopens,
    the task's tmpfs, /etc; none of it when None). Raises :class:`JailError` (or :class:`Unavailable` under
    ``on``)."""
    jail = Jail()
    jail.task = task
    root = os.geteuid() == 0
    if not WORKER_ID_MIN <= worker_id <= WORKER_ID_MAX:
        raise JailError("worker id %d is outside %d-%d" % (worker_id, WORKER_ID_MIN, WORKER_ID_MAX))
    if namespaces != "off":
        paths, links = view(bundle, task.program_files() + task.libraries() if task is not None else ())
        pre = task.present() if task is not None else []
        # Made before unshare: the helper process that holds a mapping must not be the new pid namespace's
        # first process (its exit would end the namespace).
        idmaps = _idmaps(pre, worker_id) if root and pre else {}
        try:
            flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS
            outer_uid, outer_gid = os.geteuid(), os.getegid()
            _unshare(flags if root else flags | CLONE_NEWUSER)
            if not root:
                _map_ids(worker_id, outer_uid, outer_gid)
            # Opened after unshare: a bind mount's source must be a mount of our own namespace (EINVAL otherwise),
            # and before the tmpfs: it hides the host's /tmp, where a bundle may live.
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            _note_rootfs()
            fds = _open_all(paths)
            try:
                pre_fds = _open_all([p.path for p in pre])
            except OSError:
                for fd in fds.values():
                    os.close(fd)
                raise
            fds.update(pre_fds)
            try:
                _check_preopens(pre, pre_fds, task)
                jail.binds = _build_root(paths, links, fds, userns=not root, task=task, preopens=pre,
                                         worker_id=worker_id, idmaps=idmaps)
            finally:
                for fd in list(fds.values()) + list(idmaps.values()):
                    os.close(fd)
            if task is not None:
                task.namespaced = True
            jail.namespaces = ([] if root else ["user"]) + list(NAMESPACES)
            os.chdir(bundle)
            _fork(jail, kernel_fd, kernel_pid, on_child)  # returns in C only
        except Unavailable as e:
            for fd in idmaps.values():
                os.close(fd)
            if namespaces == "on":
                raise
            jail.why_not = "the host refused them: %s" % e
    else:
        jail.why_not = "off in [sandbox]"
    if root or jail.namespaces:
        if root and not jail.namespaces:
            _require_readable(bundle, worker_id)
        if root or (jail.namespaces and task is not None and task.programs):
            # A root kernel's worker id is this worker's alone: RLIMIT_NPROC counts its threads (and child
            # processes) and nothing else. In a user namespace of its own (Linux >= 5.14 counts RLIMIT_NPROC per
            # user namespace) it bounds the children of a task that may run programs: fork bombs stop there.
            limit_threads(MAX_THREADS)
        drop_identity(worker_id, worker_id)
    else:
        _check(_prctl(PR_SET_DUMPABLE, 0), "prctl(PR_SET_DUMPABLE)")
    jail.uid, jail.gid = os.getuid(), os.getgid()
    if jail.uid == 0 or os.geteuid() == 0 or jail.gid == 0:
        raise JailError("still uid/gid 0 after the identity drop")
    death_signal(9)  # a change of uid cleared it
    if jail.alive_fd is not None:  # P could have died while the signal was cleared
        if _gone(jail.alive_fd):
            os._exit(70)
        os.close(jail.alive_fd)
        jail.alive_fd = None
    elif kernel_pid and os.getppid() != kernel_pid:
        raise JailError("the kernel (pid %d) is gone" % kernel_pid)
    return jail


def _require_readable(bundle, uid):
    from . import _confine

    for p in _confine.read_paths(bundle):
        stop = readable_by(p, uid, uid)
        if stop is not None:
            raise JailError("the worker's uid %d cannot read %s: %s stops it; without the mount namespace the "
                            "worker sees the host's permissions (use [sandbox] namespaces = \"auto\", or install "
                            "the runtime and the app where every user can read them)" % (uid, p, stop))


def _open_all(paths):
    fds = {}
    try:
        for p in paths:
            fds[p] = os.open(p, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        for fd in fds.values():
            os.close(fd)
        raise
    return fds


def _check_preopens(pre, fds, task):
    """Each preopen directory, as opened (``fds``, what will be bound), is the one the kernel resolved and checked:
    the kernel passes real paths (``Manifest.Preopen.resolve``, at every start). A symbolic link swapped into the
    path since then (by whoever owns the app directory, while a root kernel starts the worker) would bind another
    host directory, idmapped to the worker: refused, the task does not run."""
    asked = {p.name: os.path.normpath(p.path) for p in task.preopens} if task is not None else {}
    for p in pre:
        actual = os.readlink("/proc/self/fd/%d" % fds[p.path])
        if actual != asked.get(p.name):
            raise JailError("preopen %s: %s now leads to %s, not the directory the kernel checked (a symbolic link "
                            "was put in its path since)" % (p.name, asked.get(p.name), actual))


def _map_ids(inside, outer_uid, outer_gid):
    """Maps our own uid and gid to ``inside`` in the new user namespace (the only mapping an unprivileged process
    may write; ``setgroups`` must be denied first)."""
    for name, text in (("setgroups", "deny"), ("uid_map", "%d %d 1" % (inside, outer_uid)),
                       ("gid_map", "%d %d 1" % (inside, outer_gid))):
        try:
            with open("/proc/self/" + name, "w") as f:
                f.write(text)
        except OSError as e:
            raise JailError("writing /proc/self/%s: %s" % (name, e.strerror or e)) from None


def _kept_flags(fd):
    """The flags of the host mount under ``fd`` that a remount must keep (a user namespace may not drop them)."""
    try:
        st = os.statvfs(fd)
    except OSError:
        return 0
    return sum(ms for st_bit, ms in _ST_TO_MS if st.f_flag & st_bit and ms != MS_RDONLY)


def _build_root(paths, links, fds, userns, task=None, preopens=(), worker_id=None, idmaps=None):
    """Builds the new root on a tmpfs mounted over /tmp (the host's /tmp is hidden from here on, which is why
    the sources were opened first; nothing propagates to the host: / is private) and pivots into it; returns the
    number of bind mounts. With ``task``: first the task's tmpfs (``/tmp`` and ``HOME``), so that the read-only
    binds of host paths under /tmp (a bundle there) land on it; after them the ``preopens`` (read-write ones
    without ``MS_RDONLY``) and the generated /etc."""
    new = "/tmp"
    _mount(b"tmpfs", new, b"tmpfs", MS_NOSUID | MS_NODEV, TMPFS_OPTIONS)
    for link, target in sorted(links.items()):
        _mkdirs(os.path.dirname(new + link))
        if not os.path.lexists(new + link):
            os.symlink(target, new + link)
    if task is not None:
        _task_tmpfs(new, task.tmp_bytes, worker_id)
    binds = 0
    for p in sorted(paths):
        if any(p == l or p.startswith(l + "/") for l in links):
            continue  # a path through a link: bound at the link's target, which is in the list too
        _bind(fds[p], new + p, os.path.isdir("/proc/self/fd/%d" % fds[p]), userns, 0)
        binds += 1
    for p in sorted(preopens, key=lambda p: p.path):
        if idmaps and p.path in idmaps:
            try:
                _bind_idmapped(fds[p.path], new + p.path, idmaps[p.path], p.writable)
                continue
            except JailError:
                if not _ROOTFS:
                    raise
            # The microVM guest's initramfs may not take idmapped mounts (ramfs, or tmpfs before Linux 6.3): its
            # preopens are the VM's own copies, made for this run, so they are given to the worker id instead.
            _chown_tree("/proc/self/fd/%d" % fds[p.path], worker_id)
            _bind(fds[p.path], new + p.path, True, userns, MS_NOEXEC, writable=p.writable)
        else:
            _bind(fds[p.path], new + p.path, True, userns, MS_NOEXEC, writable=p.writable)
    if task is not None:
        from . import _environ

        _mkdirs(new + "/etc")
        for name, data in _environ.etc_files(worker_id, worker_id).items():
            fd = os.open(new + "/etc/" + name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
    _mkdirs(new + "/dev")
    for dev in DEVICES:
        if os.path.exists(dev):
            fd = os.open(dev, os.O_PATH | os.O_CLOEXEC)
            try:
                _bind(fd, new + dev, False, userns, MS_NOEXEC, nodev=False)
            finally:
                os.close(fd)
    if _c()[1].sethostname(HOSTNAME, len(HOSTNAME)) < 0:
        if _c()[0].get_errno() != errno.EPERM:
            _fail("sethostname")
        # Podman's and Docker's default seccomp profiles refuse sethostname without CAP_SYS_ADMIN even in a UTS
        # namespace of our own (seen under Podman 4.3): the namespace stays private, keeping the container's name.
    os.chdir(new)
    ctypes, lib = _c()
    if lib.syscall(ctypes.c_long(SYS_PIVOT_ROOT), b".", b".") == 0:
        # The old root is now stacked under the new one at "/": detach it, and nothing of the host is reachable.
        _check(lib.umount2(b".", MNT_DETACH), "umount2(old root)")
    elif ctypes.get_errno() == 22 and _is_rootfs():
        # The initramfs (the microVM guest's root) can never be pivoted away from (EINVAL). Do what switch_root
        # does: move the new root over "/" and chroot into it. The old rootfs stays underneath, unreachable from
        # the new root without chroot() (refused by seccomp, and CAP_SYS_CHROOT is gone with uid 0).
        _mount(b".", b"/", None, MS_MOVE)
        _check(lib.chroot(b"."), "chroot")
        global _SWITCHED
        _SWITCHED = True
    else:
        _fail("pivot_root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    return binds


def _idmaps(preopens, worker_id):
    """A root kernel's worker id owns no host file, so it could neither write a preopen nor read a private one:
    each preopen is bound through an **idmapped mount** whose files owned by the directory's owner (uid and gid)
    appear owned by the worker id, and files the worker creates are written as that owner on the host. Returns
    ``{path: user namespace fd}`` (the namespace carrying the mapping ``owner -> worker id``), made before the
    jail's ``unshare``; other owners' files appear as the overflow id (nobody) there."""
    out, by_owner = {}, {}
    try:
        for p in preopens:
            st = os.stat(p.path)
            key = (st.st_uid, st.st_gid)
            if key not in by_owner:
                by_owner[key] = _mapping_userns(st.st_uid, st.st_gid, worker_id)
            out[p.path] = os.dup(by_owner[key])
    finally:
        for fd in by_owner.values():
            os.close(fd)
    return out


def _chown_tree(path, owner):
    """Gives ``path`` and everything beneath it to ``owner`` (links themselves, never followed)."""
    os.chown(path, owner, owner)
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(top, name), owner, owner, follow_symlinks=False)


def _mapping_userns(uid, gid, inside_to):
    """An fd of a new user namespace whose uid_map/gid_map map ``uid``/``gid`` (inside) to ``inside_to``
    (outside): the shape an idmapped mount reads (on-disk id -> id seen through the mount)."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a throw-away process: unshare a user namespace, wait for its mapping, exit
        try:
            os.close(ready_r)
            os.close(done_w)
            ctypes, lib = _c()
            ok = lib.syscall(ctypes.c_long(SYS_UNSHARE), ctypes.c_long(CLONE_NEWUSER)) == 0
            os.write(ready_w, b"1" if ok else b"0")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise JailError("unshare(CLONE_NEWUSER) for an idmapped preopen failed")
        for name, text in (("uid_map", "%d %d 1" % (uid, inside_to)), ("gid_map", "%d %d 1" % (gid, inside_to))):
            with open("/proc/%d/%s" % (pid, name), "w") as f:
                f.write(text)
        return os.open("/proc/%d/ns/user" % pid, os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


def _bind_idmapped(fd, target, userns_fd, writable):
    """Binds the directory ``fd`` at ``target`` as an idmapped mount (``open_tree`` clone, ``mount_setattr`` with
    ``MOUNT_ATTR_IDMAP``, ``move_mount``), nosuid, nodev, read-only unless ``writable``."""
    ctypes, lib = _c()

    class MountAttr(ctypes.Structure):
        _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                    ("userns_fd", ctypes.c_uint64)]

    _mkdirs(target)
    tree = lib.syscall(ctypes.c_long(SYS_OPEN_TREE), ctypes.c_long(fd), b"",
                       ctypes.c_long(OPEN_TREE_CLONE | os.O_CLOEXEC | AT_EMPTY_PATH))
    if tree < 0:
        _fail("open_tree(%s)" % target)
    try:
        attr = MountAttr(MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC
                         | (0 if writable else MOUNT_ATTR_RDONLY), 0, 0, userns_fd)
        if lib.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_long(tree), b"", ctypes.c_long(AT_EMPTY_PATH),
                       ctypes.byref(attr), ctypes.c_long(ctypes.sizeof(attr))) < 0:
            _fail("mount_setattr(MOUNT_ATTR_IDMAP) on %s (the host's filesystem may not support idmapped mounts)"
                  % target)
        if lib.syscall(ctypes.c_long(SYS_MOVE_MOUNT), ctypes.c_long(tree), b"", ctypes.c_long(-100),
                       os.fsencode(target), ctypes.c_long(MOVE_MOUNT_F_EMPTY_PATH)) < 0:
            _fail("move_mount(%s)" % target)
    finally:
        os.close(tree)


def _task_tmpfs(new, size, owner):
    """The task's private tmpfs of ``size`` bytes, owned by ``owner``: its ``tmp/`` bound at ``/tmp`` and its
    ``home/`` at ``HOME`` (one filesystem: the two share the bound). It lives as long as the task's mount
    namespace: when the task's last process ends, the host frees it."""
    from . import _environ

    stage = new + "/.task"
    _mkdirs(stage)
    opts = "mode=0700,size=%d,nr_inodes=%d,uid=%d,gid=%d" % (size, max(1024, size // 4096), owner, owner)
    # noexec: nothing written there runs (a script or an ELF a task writes, mapped or executed; ld.so refuses too)
    _mount(b"tmpfs", stage, b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)
    for sub, where in (("tmp", _environ.TMP), ("home", _environ.HOME)):
        os.mkdir(stage + "/" + sub, 0o700)
        os.chown(stage + "/" + sub, owner, owner)
        _mkdirs(new + where)
        _mount(stage + "/" + sub, new + where, None, MS_BIND)
    _check(_c()[1].umount2(os.fsencode(stage), MNT_DETACH), "umount2(%s)" % stage)
    os.rmdir(stage)


def _is_rootfs():
    """Whether "/" is the kernel's initial rootfs (an initramfs), read before the view shrank: see _build_root."""
    return _ROOTFS


_ROOTFS = False
_SWITCHED = False  # the root was moved over the initramfs rather than pivoted


def _note_rootfs():
    global _ROOTFS
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and fields[4] == b"/":  # the last one listed is the one on top
                    _ROOTFS = fields[fields.index(b"-") + 1] == b"rootfs"
    except (OSError, ValueError):
        pass


def _mkdirs(path):
    os.makedirs(path, mode=0o755, exist_ok=True)


def _bind(fd, target, is_dir, userns, extra, nodev=True, writable=False):
    if is_dir:
        _mkdirs(target)
    else:
        _mkdirs(os.path.dirname(target))
        if not os.path.lexists(target):
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o444))
    source = "/proc/self/fd/%d" % fd
    # In a user namespace a non-recursive bind of a tree with submounts is refused (it would reveal what they
    # cover); as root the submounts (rare under library dirs) are left out of the view.
    _mount(source, target, None, MS_BIND | (MS_REC if userns else 0))
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | (MS_NODEV if nodev else 0) | extra | _kept_flags(fd)
    if not nodev:
        flags &= ~MS_NODEV
    if writable:
        flags &= ~MS_RDONLY
    _mount(None, target, None, flags)


def _fork(jail, kernel_fd, kernel_pid, on_child):
    """Forks C (PID 1 of the new pid namespace) and, in P, supervises it until it ends; returns in C only."""
    alive_r, alive_w = os.pipe()  # P holds alive_w: C reads EOF once P is gone
    # Held across the fork: a SIGTERM reaching P before it supervises must wait to be forwarded (by default it would
    # end P, and the loader's own handler would raise SystemExit in P). C restores the mask at once.
    before = _signal.pthread_sigmask(_signal.SIG_BLOCK, _SUPERVISED)
    pid = os.fork()
    if pid == 0:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, before)
        os.close(alive_w)
        death_signal(9)  # fork cleared it
        if on_child is not None:
            on_child()
        if _gone(alive_r):
            os._exit(70)
        jail.alive_fd = alive_r
        return
    os.close(alive_r)
    _supervise(pid, kernel_fd, kernel_pid)


def _gone(fd):
    """Whether the write end of the pipe ``fd`` reads from is closed everywhere (P has exited)."""
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 1) == b""
    except BlockingIOError:
        return False


def _supervise(child, kernel_fd, kernel_pid):
    """P's whole life after the fork. The signals it acts on stay blocked and are taken synchronously
    (``sigwaitinfo``), never by handlers: CPython runs a handler between byte codes, so a signal arriving just
    before a blocking ``waitpid`` would wait there until C ended (a SIGTERM left unforwarded)."""
    os.close(kernel_fd)  # C holds the connection alone: the kernel sees EOF when C ends
    try:
        death_signal(int(_signal.SIGUSR1))  # blocked like the rest: it arrives through sigwaitinfo
        if kernel_pid and os.getppid() != kernel_pid:
            _kill_and_exit(child)
        while True:
            try:
                done, status = os.waitpid(child, os.WNOHANG)
            except ChildProcessError:
                os._exit(70)
            if done:
                os._exit(exit_status(status))
            signo = _signal.sigwaitinfo(_SUPERVISED).si_signo
            if signo == _signal.SIGUSR1:
                _kill_and_exit(child)
            elif signo != _signal.SIGCHLD:  # TERM, INT, HUP: C's to act on
                try:
                    os.kill(child, signo)
                except OSError:
                    pass
    except BaseException:
        try:
            os.kill(child, 9)
        finally:
            os._exit(71)


def _kill_and_exit(child):
    """The kernel died: C may have cleared its own death signal; SIGKILL to the namespace's init ends every process
    in it."""
    try:
        os.kill(child, 9)
    except OSError:
        pass
    os._exit(137)


def exit_status(status):
    """The exit status P reports for C's wait status: ``n`` for exit ``n``, ``128 + s`` for signal ``s`` (what a
    shell, and Java's ``Process.exitValue``, report for a process killed by a signal)."""
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def limit_threads(n):
    """``RLIMIT_NPROC`` (soft and hard) at most ``n``: the tasks (threads) of the worker's uid. The hard limit is never
    raised: a host that already gave less keeps its limit. Without ``CAP_SYS_RESOURCE`` the worker cannot raise it again."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    n = min(n, hard) if hard != resource.RLIM_INFINITY else n
    resource.setrlimit(resource.RLIMIT_NPROC, (n, n))


def drop_identity(uid, gid):
    """Empties the capability bounding set, then becomes ``uid``/``gid`` with no supplementary groups (every
    capability goes with uid 0), and makes the process non-dumpable (no ptrace or /proc/<pid> by the same uid)."""
    for cap in range(64):
        if _prctl(PR_CAPBSET_DROP, cap) < 0:
            ctypes, _ = _c()
            if ctypes.get_errno() == 22:  # EINVAL: past the host's last capability
                break
            _fail("prctl(PR_CAPBSET_DROP, %d)" % cap)
    if os.geteuid() == 0:
        os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _check(_prctl(PR_SET_DUMPABLE, 0), "prctl(PR_SET_DUMPABLE)")
