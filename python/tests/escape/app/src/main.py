"""The escape suite's main task: every way out of a ukernel worker, tried one after the other.

Each attempt ends *denied* (the expected error was raised) or *SUCCEEDED* (the worker reached the host, or the
kernel let it do what its policy forbids). ``ESCAPE_MODE`` says what to expect: ``strict`` (the default
sandbox) expects every attempt denied; ``insecure`` (``--insecure-no-sandbox``) expects the host-level attempts
to succeed — proof that the suite tests something — and the ABI-level ones still denied: the kernel's checks do
not depend on the sandbox. Each outcome is a console line; the summary is ``escape: N attempts, M denied``; the
exit status is 0 only when every outcome was the expected one.

Attempts that would harm the host when they succeed are made harmless in insecure mode: the kernel gets signal 0
(the same permission check as SIGTERM, nothing delivered), execv runs in a forked child, ptrace and mount are
called with arguments that fail harmlessly once past the sandbox (ESRCH, ENOENT: the call reached the host).
"""

import ctypes
import errno
import json
import os
import random
import signal
import socket
import subprocess
import sys

import ukernel

MODE = os.environ.get("ESCAPE_MODE", "strict")
# The test says whether the worker runs in its own namespaces (a root kernel, or user namespaces allowed): then
# host paths outside the minimal root do not exist for it, the root is a read-only mount, and the kernel's pid is
# not in its pid namespace; without them Landlock refuses the same attempts with EACCES.
NAMESPACES = os.environ.get("ESCAPE_NAMESPACES") == "1"
KERNEL_PID = int(os.environ["UKERNEL_KERNEL_PID"])
PORT = int(os.environ["ESCAPE_PORT"])  # a TCP server the test runs on loopback
SYS_SOCKET, SYS_PTRACE, SYS_MOUNT = 41, 101, 165  # x86_64
PTRACE_CONT = 7


def host_call(result, what):
    """A raw syscall's result: PermissionError when the sandbox refused it, else how far it got."""
    err = ctypes.get_errno()
    if result == -1 and err in (errno.EPERM, errno.EACCES):
        raise PermissionError(err, "%s: %s" % (what, os.strerror(err)))
    return "%s reached the host (%s)" % (what, "returned %d" % result if result != -1 else errno.errorcode[err])


LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long


def syscall(nr, *args):
    ctypes.set_errno(0)
    return LIBC.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])


# -- host-level attempts: the sandbox must stop these --------------------------------------------------------------

class ReadOnlyFileSystem(OSError):
    """EROFS: the write reached a read-only mount (the worker's minimal root)."""


def read_only(attempt):
    """The attempt, with EROFS raised as :class:`ReadOnlyFileSystem` (so that only that errno counts)."""
    def wrapped():
        try:
            return attempt()
        except OSError as e:
            if e.errno == errno.EROFS:
                raise ReadOnlyFileSystem(e.errno, e.strerror, e.filename) from None
            raise
    return wrapped


HIDDEN = FileNotFoundError if NAMESPACES else PermissionError  # a host path outside the worker's view
UNWRITABLE = ReadOnlyFileSystem if NAMESPACES else PermissionError
# A signal to a host pid: the seccomp allow-list refuses any target but the worker itself (EPERM) before the pid
# namespace, where the pid names nothing (ESRCH), is asked; either is a refusal.
NO_SUCH_PROCESS = (ProcessLookupError, PermissionError)


#: The users of the /etc/passwd the jail generates for the worker (its own view: not the host's users).
WORKER_USERS = {"root", "ukernel", "nobody"}


def read_etc_passwd():
    with open("/etc/passwd") as f:
        users = {line.split(":", 1)[0] for line in f.read().splitlines() if line}
    if users <= WORKER_USERS:  # the worker's own file: the host's list of users stayed out of reach
        raise FileNotFoundError(errno.ENOENT, "the host's /etc/passwd is not in the view (this one is the "
                                "worker's own: %s)" % " ".join(sorted(users)), "/etc/passwd")
    return "read the host's users: %s" % " ".join(sorted(users))


def write_tmp():
    # /var/tmp: the host's shared temporary directory (the worker's /tmp is its own private tmpfs)
    path = "/var/tmp/ukernel-escape-%d" % os.getpid()
    with open(path, "w") as f:
        f.write("escaped\n")
    os.unlink(path)
    return "wrote " + path


def write_bundle():
    path = os.path.join(os.getcwd(), "escape-was-here.txt")
    with open(path, "w") as f:
        f.write("escaped\n")
    os.unlink(path)
    return "wrote " + path


def list_root():
    return "listed / (%d entries)" % len(os.listdir("/"))


def make_socket(family, kind, proto=0):
    def attempt():
        s = socket.socket(family, kind, proto)
        s.close()
        return "created a host socket"
    return attempt


def bind_outside():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("0.0.0.0", 0))
    finally:
        s.close()
    return "bound a host socket to every address"


def connect_loopback():
    with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
        s.sendall(b"escaped\n")
    return "connected to 127.0.0.1:%d directly" % PORT


def run_subprocess():
    r = subprocess.run(["/bin/true"])
    return "ran /bin/true (status %d)" % r.returncode


def run_os_system():
    status = os.system("exit 7")
    if status == 7 << 8:
        return "os.system ran a shell (exit 7)"
    raise PermissionError(errno.EPERM, "os.system could not start a shell (status %d)" % status)


def fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return "forked pid %d" % pid


def execv():
    if MODE == "strict":
        os.execv("/bin/true", ["true"])  # replaces this worker if it is not refused: the suite then fails loudly
        return "execv returned"
    pid = os.fork()
    if pid == 0:
        try:
            os.execv("/bin/true", ["true"])
        finally:
            os._exit(99)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return "execv ran /bin/true (in a child)"
    raise PermissionError(errno.EPERM, "execv failed in the child")


def raw_socket_syscall():
    fd = syscall(SYS_SOCKET, socket.AF_INET, socket.SOCK_DGRAM, 0)  # UDP: refused in every variant
    if fd >= 0:
        os.close(fd)
    return host_call(fd, "syscall(SYS_socket)")


def raw_ptrace_syscall():
    return host_call(syscall(SYS_PTRACE, PTRACE_CONT, os.getpid(), 0, 0), "syscall(SYS_ptrace)")


def raw_mount_syscall():
    return host_call(syscall(SYS_MOUNT, b"none", b"/nonexistent-ukernel-escape", b"tmpfs", 0, None),
                     "syscall(SYS_mount)")


def signal_kernel():
    sig = signal.SIGTERM if MODE == "strict" else 0
    os.kill(KERNEL_PID, sig)
    return "signal %d reached the kernel (pid %d)" % (sig, KERNEL_PID)


def read_kernel_environ():
    with open("/proc/%d/environ" % KERNEL_PID, "rb") as f:
        return "read %d bytes of the kernel's environment" % len(f.read())


def open_kernel_mem():
    with open("/proc/%d/mem" % KERNEL_PID, "rb"):
        return "opened the kernel's memory"


# -- ABI-level attempts: the kernel must refuse these, sandbox or not ----------------------------------------------

def forge_handle():
    h = random.randrange(1 << 16, 1 << 31)
    ukernel.handle_close(h)
    return "closed forged handle %d" % h


def forge_handle_send():
    h = random.randrange(1 << 16, 1 << 31)
    ukernel.ipc_send(h, b"forged")
    return "sent on forged handle %d" % h


class Reporter:
    """The spawned task, its channel, and what it told us."""

    def __init__(self):
        self.mine, theirs = ukernel.Channel.pair()
        self.task = ukernel.Task.spawn("reporter", "LOG|IPC", [theirs])
        while True:
            try:
                data, _ = self.mine.recv()
                break
            except ukernel.WouldBlockError:
                self.mine.wait(timeout=60)
        self.report = json.loads(data)

    def finish(self):
        self.mine.send(b"done")
        ukernel.poll([(self.task.handle, ukernel.EV_READABLE)], timeout=60)
        return self.task.status()


def other_tasks_handle(reporter):
    def attempt():
        h = reporter.report["handle"]
        ukernel.ipc_send(h, b"not yours")
        return "sent on the reporter's handle %d" % h
    return attempt


def other_tasks_handle_close(reporter):
    def attempt():
        h = reporter.report["handle"]
        ukernel.handle_close(h)
        return "closed the reporter's handle %d" % h
    return attempt


def cap_acquire_beyond_policy(reporter):
    def attempt():
        outcome = reporter.report["cap_acquire_net"]
        if outcome.startswith("DeniedError: "):
            raise ukernel.DeniedError(errno.EACCES, "(in the reporter) " + outcome[len("DeniedError: "):])
        return "the reporter acquired NET beyond its policy"
    return attempt


def cap_reacquire_after_drop():
    ukernel.cap_drop("IO")
    ukernel.cap_acquire("IO")
    return "re-acquired a dropped capability"


def net_connect_outside():
    s = ukernel.net_socket()
    try:
        try:
            ukernel.net_connect(s, "127.0.0.1", PORT)
        except ukernel.InProgressError:
            pass
        return "connected to 127.0.0.1:%d (not in net.connect)" % PORT
    finally:
        ukernel.net_close(s)


def net_bind_outside(host, port):
    def attempt():
        s = ukernel.net_socket()
        try:
            ukernel.net_bind(s, host, port)
            return "bound %s:%d (not in net.bind)" % (host, port)
        finally:
            ukernel.net_close(s)
    return attempt


def io_open(path):
    def attempt():
        f = ukernel.io_open("data", path)
        ukernel.io_close(f)
        return "opened %r beneath preopen data" % path
    return attempt


# -- the run -------------------------------------------------------------------------------------------------------

HOST = "host"
ABI = "abi"


def main():
    ukernel.cap_acquire("LOG", "TIME", "TASK", "IPC", "NET", "IO")
    sanity = ukernel.io_open("data", "inside.txt")  # the legitimate door works
    assert ukernel.io_read(sanity, 100) == b"inside\n"
    ukernel.io_close(sanity)
    reporter = Reporter()
    attempts = [
        (HOST, "read /etc/passwd", read_etc_passwd, HIDDEN),
        (HOST, "write /var/tmp", read_only(write_tmp), HIDDEN),
        (HOST, "write into the bundle", read_only(write_bundle), UNWRITABLE),
        (HOST, "list /", list_root, PermissionError),
        # a TCP socket alone reaches nothing: under a root kernel the worker may make one, and its bind/connect
        # are the kernel's (docs/confinement.md, "Sockets the worker makes"); elsewhere socket() itself is refused
        (HOST, "socket TCP bound outside net.bind", bind_outside, PermissionError),
        (HOST, "socket UDP", make_socket(socket.AF_INET, socket.SOCK_DGRAM), PermissionError),
        (HOST, "socket Unix", make_socket(socket.AF_UNIX, socket.SOCK_STREAM), PermissionError),
        (HOST, "socket netlink", make_socket(socket.AF_NETLINK, socket.SOCK_RAW, 0), PermissionError),
        (HOST, "connect to the loopback server", connect_loopback, PermissionError),
        (HOST, "subprocess.run", run_subprocess, PermissionError),
        (HOST, "os.system", run_os_system, PermissionError),
        (HOST, "os.fork", fork, PermissionError),
        (HOST, "os.execv", execv, PermissionError),
        (HOST, "ctypes syscall(socket)", raw_socket_syscall, PermissionError),
        (HOST, "ctypes syscall(ptrace)", raw_ptrace_syscall, PermissionError),
        (HOST, "ctypes syscall(mount)", raw_mount_syscall, PermissionError),
        (HOST, "signal the kernel", signal_kernel, NO_SUCH_PROCESS),
        (HOST, "read /proc/<kernel>/environ", read_kernel_environ, HIDDEN),  # no /proc in the minimal root
        (HOST, "open /proc/<kernel>/mem", open_kernel_mem, HIDDEN),
        (ABI, "forge a handle (handle_close)", forge_handle, ukernel.BadHandleError),
        (ABI, "forge a handle (ipc_send)", forge_handle_send, ukernel.BadHandleError),
        (ABI, "another task's handle (ipc_send)", other_tasks_handle(reporter), ukernel.BadHandleError),
        (ABI, "another task's handle (handle_close)", other_tasks_handle_close(reporter), ukernel.BadHandleError),
        (ABI, "cap_acquire beyond policy", cap_acquire_beyond_policy(reporter), ukernel.DeniedError),
        (ABI, "net_connect outside net.connect", net_connect_outside, ukernel.DeniedError),
        (ABI, "net_bind outside net.bind (wildcard)", net_bind_outside("0.0.0.0", 0), ukernel.DeniedError),
        (ABI, "net_bind outside net.bind (port)", net_bind_outside("127.0.0.1", 8080), ukernel.DeniedError),
        (ABI, "io_open with ..", io_open("../ukernel.toml"), ukernel.DeniedError),
        (ABI, "io_open absolute", io_open("/etc/passwd"), ukernel.DeniedError),
        (ABI, "io_open symlink out", io_open("out"), ukernel.DeniedError),
        (ABI, "cap_acquire after cap_drop", cap_reacquire_after_drop, ukernel.DeniedError),
    ]
    denied = 0
    unexpected = []
    for level, name, attempt, expected in attempts:
        try:
            detail = attempt()
            outcome = "SUCCEEDED: " + detail
            was_denied = False
        except expected as e:
            if level == HOST and isinstance(e, ukernel.KernelError):
                outcome, was_denied = "UNEXPECTED kernel error %s: %s" % (type(e).__name__, e), False
            else:
                outcome, was_denied = "denied: %s: %s" % (type(e).__name__, e), True
        except Exception as e:
            outcome, was_denied = "UNEXPECTED %s: %s" % (type(e).__name__, e), False
        denied += was_denied
        should_be_denied = MODE == "strict" or level == ABI
        ok = was_denied == should_be_denied and not outcome.startswith("UNEXPECTED")
        if not ok:
            unexpected.append(name)
        ukernel.info("escape: [%s] %s: %s%s" % (level, name, outcome, "" if ok else "   <-- not as expected"))
    state, code = reporter.finish()
    # The kernel kept serving through all of it: these calls go through the ABI.
    ukernel.info("escape: kernel still serving after the attempts: task %r, monotonic %d ns, reporter exited %d"
                 % (ukernel.task_self(), ukernel.time_monotonic_ns(), code))
    ukernel.info("escape: %d attempts, %d denied" % (len(attempts), denied))
    if unexpected:
        ukernel.error("escape: %d outcome(s) not as expected in %s mode: %s" % (len(unexpected), MODE,
                                                                                "; ".join(unexpected)))
        return 1
    ukernel.info("escape: every outcome as expected in %s mode" % MODE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
