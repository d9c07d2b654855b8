"""The environment a task's code finds, whatever the platform: its preopens by path, ``HOME``, a private temporary
directory, a user name, and (in the worker's own mount namespace) a minimal ``/etc``.

The kernel passes (``ProcessPlatform``, set after the app's variables, so the app's environment cannot choose them):

``UKERNEL_PREOPENS``
    one line per preopen of the manifest, ``ro|rw NAME /host/path``;
``UKERNEL_TMP_BYTES``
    the size of the task's private tmpfs (``[limits] tmp_bytes``);
``UKERNEL_SCRATCH``
    only where the worker may have no mount namespace of its own: a private host directory (``home/``, ``tmp/``)
    the kernel made for this worker and removes when its process ends;
``UKERNEL_SUBPROCESS``
    one line per program of the manifest's ``[caps] subprocess``, as an absolute host path (the kernel resolved
    names on its ``PATH``) or ``python`` (this interpreter): the programs the task's children may run (bound into
    the view, executable by Landlock).

:func:`from_kernel` reads (and removes) them; the loader then hands the :class:`TaskView` to ``_jail`` (which
builds it into the minimal root: preopens bound at their host paths, one tmpfs for ``/tmp`` and ``HOME``, the
generated ``/etc``) and to ``_confine`` (Landlock rules: :meth:`TaskView.rules`). :meth:`TaskView.apply` sets the
variables the app sees: ``UKERNEL_PREOPEN_<NAME>``, ``HOME``, ``TMPDIR``, ``USER``, ``LOGNAME``.
docs/confinement.md, "The worker's view", has the table.
"""

import os
import sys

ENV_PREOPENS = "UKERNEL_PREOPENS"
ENV_TMP_BYTES = "UKERNEL_TMP_BYTES"
ENV_SCRATCH = "UKERNEL_SCRATCH"
ENV_SUBPROCESS = "UKERNEL_SUBPROCESS"
#: In UKERNEL_SUBPROCESS: the worker's own interpreter (``[caps] subprocess = ["python"]``).
WORKER_PYTHON = "python"
DEFAULT_TMP_BYTES = 64 << 20

#: The worker's user name, and its home in its own mount namespace.
USER = "ukernel"
HOME = "/home/" + USER
TMP = "/tmp"

#: The files of the worker's /etc (in its own mount namespace) other than the public data _confine.DATA_PATHS
#: binds; each generated, or copied from the host when the host has one (``COPIED``).
ETC_FILES = ("passwd", "group", "hosts", "host.conf", "nsswitch.conf", "services", "protocols", "mime.types")
COPIED = ("services", "protocols", "mime.types")
#: The most of a host file copied into the worker's /etc (the root tmpfs is small); a larger one is replaced by
#: the minimal generated content.
MAX_COPY = 512 << 10

HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tukernel\n"
NSSWITCH = ("passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nprotocols: files\n"
            "services: files\nethers: files\nrpc: files\n")
MIN_SERVICES = ("ftp\t\t21/tcp\nssh\t\t22/tcp\nsmtp\t\t25/tcp\ndomain\t\t53/tcp\ndomain\t\t53/udp\n"
                "http\t\t80/tcp\t\twww\npop3\t\t110/tcp\nntp\t\t123/udp\nimap2\t\t143/tcp\t\timap\n"
                "https\t\t443/tcp\nsubmission\t587/tcp\nimaps\t\t993/tcp\npop3s\t\t995/tcp\n"
                "postgresql\t5432/tcp\nredis\t\t6379/tcp\n")
MIN_PROTOCOLS = "ip\t0\tIP\nicmp\t1\tICMP\ntcp\t6\tTCP\nudp\t17\tUDP\nipv6\t41\tIPv6\nipv6-icmp\t58\tIPv6-ICMP\n"
MIN_MIME_TYPES = ("text/html\t\t\t\t\thtml htm\ntext/plain\t\t\t\t\ttxt text\ntext/css\t\t\t\t\tcss\n"
                  "text/csv\t\t\t\t\tcsv\ntext/javascript\t\t\t\t\tjs mjs\napplication/json\t\t\t\tjson\n"
                  "application/xml\t\t\t\t\txml\napplication/pdf\t\t\t\t\tpdf\napplication/zip\t\t\t\t\tzip\n"
                  "application/gzip\t\t\t\tgz\napplication/octet-stream\t\t\tbin\nimage/png\t\t\t\t\tpng\n"
                  "image/jpeg\t\t\t\t\tjpeg jpg\nimage/gif\t\t\t\t\tgif\nimage/svg+xml\t\t\t\t\tsvg\n"
                  "image/webp\t\t\t\t\twebp\nfont/woff2\t\t\t\t\twoff2\n")
_MINIMAL = {"services": MIN_SERVICES, "protocols": MIN_PROTOCOLS, "mime.types": MIN_MIME_TYPES}


class Preopen:
    """A preopen as the worker sees it: ``path`` is the host directory (and the path in the worker's view)."""

    def __init__(self, name, path, writable):
        self.name, self.path, self.writable = name, path, writable

    def env_name(self):
        return "UKERNEL_PREOPEN_" + "".join(c if c.isalnum() else "_" for c in self.name.upper())

    def __repr__(self):
        return "Preopen(%r, %r, %s)" % (self.name, self.path, "rw" if self.writable else "ro")


class TaskView:
    """What the kernel asked for this task: preopens, the tmpfs size, the host scratch directory (or None)."""

    def __init__(self, preopens=(), tmp_bytes=DEFAULT_TMP_BYTES, scratch=None, programs=()):
        self.preopens = list(preopens)
        self.programs = list(programs)  # [caps] subprocess: absolute host paths, as the kernel passed them
        self._files = None
        self._libs = None
        self.tmp_bytes = tmp_bytes
        self.scratch = scratch
        self.namespaced = False  # set by _jail once the task's tmpfs and /etc are in its view
        self.missing = []  # preopens whose directory does not exist (not in the view)

    def present(self):
        """The preopens whose directory exists (resolved: the view binds the real directory)."""
        out = []
        for p in self.preopens:
            real = os.path.realpath(p.path)
            if os.path.isdir(real):
                out.append(Preopen(p.name, real, p.writable))
        return out

    def program_files(self):
        """``[(path, real path)]``: each program and the ELF interpreter (``ld.so``) it names, which the host opens
        for execution too. Computed once, while the host's view is whole (the jail binds the real files)."""
        if self._files is None:
            out = []
            for p in self.programs:
                real = os.path.realpath(p)
                if not os.path.isfile(real):
                    continue
                out.append((p, real))
                interp = elf_interpreter(real)
                if interp:
                    out.append((interp, os.path.realpath(interp)))
            seen, self._files = set(), []
            for pair in out:
                if pair[1] not in seen:
                    seen.add(pair[1])
                    self._files.append(pair)
        return list(self._files)

    def libraries(self):
        """``[(path, real path)]``: the shared libraries the programs need (read-only in the view; libraries in
        the directories the view binds anyway are there already). Computed once, with :meth:`program_files`."""
        if self._libs is None:
            self._libs, seen = [], set()
            for _, real in self.program_files():
                for pair in elf_libraries(real):
                    if pair[1] not in seen:
                        seen.add(pair[1])
                        self._libs.append(pair)
        return list(self._libs)

    def writable(self):
        """Whether the task may write beneath some preopen (the seccomp filter's rw variant)."""
        return any(p.writable for p in self.preopens)

    def home(self):
        return HOME if self.namespaced else (os.path.join(self.scratch, "home") if self.scratch else None)

    def tmp(self):
        return TMP if self.namespaced else (os.path.join(self.scratch, "tmp") if self.scratch else None)

    def rules(self):
        """Landlock rules beyond the read list: ``[(path, writable)]`` — the preopens, HOME and the temporary
        directory (read-write), and the /etc files the worker reads (read-only)."""
        out = [(p.path, p.writable) for p in self.present()]
        for d in (self.home(), self.tmp()):
            if d and os.path.isdir(d):
                out.append((d, True))
        # In its own view the worker reads the generated /etc; on the host's (no mount namespace), the public
        # files only: not the host's users and groups.
        if self.namespaced:  # the programs' libraries bound into the view (read: the loader maps them)
            out += [(real, False) for _, real in self.libraries()]
        names = ETC_FILES if self.namespaced else [f for f in ETC_FILES if f not in ("passwd", "group")]
        out += [(f, False) for f in ("/etc/" + n for n in names) if os.path.isfile(f)]
        return out

    def apply(self, environ, user=None):
        """Sets the variables the app sees in ``environ``."""
        for p in self.preopens:
            environ[p.env_name()] = p.path
        home, tmp = self.home(), self.tmp()
        if home:
            environ["HOME"] = home
        if tmp:
            environ["TMPDIR"] = tmp
        name = user or USER
        environ["USER"] = environ["LOGNAME"] = name


def from_kernel(environ):
    """The :class:`TaskView` the kernel asked for (its variables are removed from ``environ``). Raises
    ``ValueError`` on a malformed value."""
    preopens = []
    for line in environ.pop(ENV_PREOPENS, "").split("\n"):
        if not line:
            continue
        mode, name, path = line.split(" ", 2)
        if mode not in ("ro", "rw") or not path.startswith("/"):
            raise ValueError("bad %s line %r" % (ENV_PREOPENS, line))
        # resolved now, while the host's view is whole: the jail binds the real directory, and the links on the
        # way to it do not exist in the worker's view
        preopens.append(Preopen(name, os.path.realpath(path), mode == "rw"))
    tmp = environ.pop(ENV_TMP_BYTES, "")
    scratch = environ.pop(ENV_SCRATCH, "") or None
    if scratch is not None and not scratch.startswith("/"):
        raise ValueError("bad %s %r" % (ENV_SCRATCH, scratch))
    programs = []
    for p in environ.pop(ENV_SUBPROCESS, "").split("\n"):
        if p == WORKER_PYTHON:
            p = sys.executable  # the interpreter running this loader: `subprocess.run([sys.executable, ...])`
        if p and not p.startswith("/"):
            raise ValueError("bad %s line %r" % (ENV_SUBPROCESS, p))
        if p and p not in programs:
            programs.append(p)
    task = TaskView(preopens, int(tmp) if tmp.isdigit() else DEFAULT_TMP_BYTES, scratch, programs)
    task.libraries()  # (and the program files) read while the host's view is whole
    return task


def _elf(path):
    """``(interpreter, needed, search)`` of a 64-bit little-endian ELF file: its ``PT_INTERP``, its ``DT_NEEDED``
    names and its ``DT_RUNPATH`` (else ``DT_RPATH``) directories with ``$ORIGIN`` expanded; None when it is not
    one (a script, another format)."""
    import struct

    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * min(phnum, 256))
        interp, dynamic, loads = None, None, []
        for i in range(len(table) // phentsize):
            ptype, = struct.unpack_from("<I", table, i * phentsize)
            offset, vaddr = struct.unpack_from("<QQ", table, i * phentsize + 8)
            filesz, = struct.unpack_from("<Q", table, i * phentsize + 32)
            if ptype == 3:  # PT_INTERP
                f.seek(offset)
                name = f.read(min(filesz, 4096)).split(b"\0", 1)[0]
                interp = os.fsdecode(name) if name.startswith(b"/") else None
            elif ptype == 2:  # PT_DYNAMIC
                dynamic = (offset, min(filesz, 1 << 16))
            elif ptype == 1:  # PT_LOAD
                loads.append((vaddr, filesz, offset))
        needed, search = [], []
        if dynamic is not None:
            f.seek(dynamic[0])
            raw = f.read(dynamic[1])
            entries = [struct.unpack_from("<qQ", raw, i) for i in range(0, len(raw) - 15, 16)]
            strtab = next((v for t, v in entries if t == 5), None)  # DT_STRTAB (an address)
            base = next((strtab - va + off for va, size, off in loads
                         if strtab is not None and va <= strtab < va + size), None)

            def string(at):
                f.seek(base + at)
                return os.fsdecode(f.read(4096).split(b"\0", 1)[0])

            if base is not None:
                for t, v in entries:
                    if t == 0:  # DT_NULL
                        break
                    if t == 1:  # DT_NEEDED
                        needed.append(string(v))
                runpath = [string(v) for t, v in entries if t == 29] or [string(v) for t, v in entries if t == 15]
                origin = os.path.dirname(os.path.realpath(path))
                for entry in runpath:
                    for d in entry.split(":"):
                        d = d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)
                        if d.startswith("/"):
                            search.append(d)
        return interp, needed, search


def _library_dirs():
    """The directories the dynamic loader searches after a program's own (``/etc/ld.so.conf`` and the defaults)."""
    import glob

    dirs = []

    def conf(path, depth=0):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            return
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line.startswith("include ") and depth < 4:
                for inc in sorted(glob.glob(line.split(None, 1)[1])):
                    conf(inc, depth + 1)
            elif line.startswith("/"):
                dirs.append(line)

    conf("/etc/ld.so.conf")
    multiarch = getattr(sys.implementation, "_multiarch", None)
    if multiarch:
        dirs += ["/lib/" + multiarch, "/usr/lib/" + multiarch]
    return dirs + ["/lib64", "/usr/lib64", "/lib", "/usr/lib"]


def elf_libraries(path, limit=512):
    """The shared libraries ``path`` needs, transitively, as ``[(path found, real path)]``: each ``DT_NEEDED``
    name looked up in the program's ``DT_RUNPATH``/``DT_RPATH`` and then where the dynamic loader looks
    (:func:`_library_dirs`). A name not found is left out (the child then fails to start, saying which)."""
    out, seen, todo, system = [], set(), [path], None
    while todo and len(seen) < limit:
        current = todo.pop()
        try:
            info = _elf(current)
        except OSError:
            info = None
        if info is None:
            continue
        _, needed, search = info
        for name in needed:
            if "/" in name:
                candidates = [name]
            else:
                if system is None:
                    system = _library_dirs()
                candidates = [os.path.join(d, name) for d in search + system]
            for c in candidates:
                if os.path.isfile(c):
                    real = os.path.realpath(c)
                    if real not in seen:
                        seen.add(real)
                        out.append((c, real))
                        todo.append(real)
                    break
    return out


def elf_interpreter(path):
    """The ELF interpreter (``PT_INTERP``, e.g. ``/lib64/ld-linux-x86-64.so.2``) a 64-bit little-endian ELF file
    names, else None (a static program, a script, not ELF)."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return None
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * min(phnum, 256))
            for i in range(len(table) // phentsize):
                ptype, = struct.unpack_from("<I", table, i * phentsize)
                if ptype == 3:  # PT_INTERP
                    offset, = struct.unpack_from("<Q", table, i * phentsize + 8)
                    size, = struct.unpack_from("<Q", table, i * phentsize + 32)
                    f.seek(offset)
                    name = f.read(min(size, 4096)).split(b"\0", 1)[0]
                    return os.fsdecode(name) if name.startswith(b"/") else None
    except (OSError, struct.error):
        return None
    return None


def etc_files(uid, gid, read_host=True):
    """``{name: bytes}``: the worker's /etc in its own mount namespace, for uid/gid ``uid``/``gid``."""
    files = {
        "passwd": ("root:x:0:0:root:/root:/usr/sbin/nologin\n"
                   "%s:x:%d:%d:ukernel worker:%s:/usr/sbin/nologin\n"
                   "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" % (USER, uid, gid, HOME)),
        "group": "root:x:0:\n%s:x:%d:\nnogroup:x:65534:\n" % (USER, gid),
        "hosts": HOSTS,
        "host.conf": "multi on\n",  # every address of a name in hosts (localhost: 127.0.0.1 and ::1)
        "nsswitch.conf": NSSWITCH,
    }
    out = {k: v.encode() for k, v in files.items()}
    for name in COPIED:
        data = None
        if read_host:
            try:
                with open("/etc/" + name, "rb") as f:
                    data = f.read(MAX_COPY + 1)
            except OSError:
                data = None
            if data is not None and len(data) > MAX_COPY:
                data = None
        out[name] = data if data is not None else _MINIMAL[name].encode()
    return out
