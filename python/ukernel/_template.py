"""A warm template: a worker that is confined, has imported the app's entry module, and forks the app's workers.

The resident host starts it like a worker (``ProcessPlatform``, the same command and environment less the
kernel's token) with ``UKERNEL_TEMPLATE_SOCKET`` and ``UKERNEL_TEMPLATE_SECRET``: a Unix socket of the host's,
which this process connects to first thing (it presents the secret), then never to the kernel. In order:

1. the jail (``_jail.isolate``: namespaces, minimal root, identity drop; P supervises, C goes on) — templates need
   a pid namespace of their own: C is its PID 1 and the workers it forks are its children there;
2. ``_confine.confine(..., template=True)``: Landlock and the seccomp filter's template variant (fork and wait
   allowed, signals to single pids, and the calls that confine further);
3. the app's entry module imported: its top-level code runs here, confined, never before;
4. ``ready``, then orders from the host, one ``sendmsg`` each: ``fork TOKEN [JSON env]`` carrying three
   descriptors (``SCM_RIGHTS``): a connection to the kernel the host opened for this worker, and the write ends of
   the worker's stdout and stderr pipes. It answers ``forked PID`` (PID in its pid namespace) or ``error WHY``,
   and reports ``exit PID STATUS`` when a worker ends.

The forked child (the worker) takes its own descriptors for 0-2, a private HOME and TMPDIR (``/tmp/.instance-PID``,
removed by the template when it ends), the per-instance variables of the order, reseeds ``random``, installs its
final confinement (``_confine.confine_instance``: its own Landlock layer, writes only beneath its own directories
and rw preopens; the seccomp filter without the template variant, for its own pid), prints its confinement report,
says hello with its own token over its own connection, and calls the entry function. docs/host.md, "Warm
templates", has the reasoning (threads and fork, what is not shared).

Exit codes of the template: 0 when the host closes the socket, 2 when the app's module cannot be imported or
would not survive a fork (threads), 70 when the host is gone, 71 when it cannot be confined.
"""

import _signal
import os
import sys

from . import _loader

ENV_SOCKET = "UKERNEL_TEMPLATE_SOCKET"
ENV_SECRET = "UKERNEL_TEMPLATE_SECRET"
INSTANCE_DIR = "/tmp/.instance-%d"


def main():
    if not _loader._die_with_kernel(os):
        return _loader.EXIT_KERNEL_GONE
    _loader._line_buffered()
    import socket

    path = os.environ.pop(ENV_SOCKET)
    secret = os.environ.pop(ENV_SECRET, "")
    for name in ("UKERNEL_ENDPOINT", "UKERNEL_TOKEN"):  # the template never talks to the kernel
        os.environ.pop(name, None)
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        ctl.connect(path)
        ctl.sendall(b"template " + secret.encode() + b"\n")
    except OSError as e:
        _loader._say("ukernel: template: cannot reach the host at %s: %s" % (path, e))
        return _loader.EXIT_KERNEL_GONE

    def fail(code, why):
        _loader._say("ukernel: template: " + why)
        try:
            ctl.sendall(b"failed " + why.replace("\n", " ").encode("utf-8", "replace") + b"\n")
        except OSError:
            pass
        return code

    mode = os.environ.pop(_loader.ENV_SANDBOX, None)
    task = _loader._task_view(os)
    if mode != "strict" or task is None or task is False:
        return fail(_loader.EXIT_UNCONFINED, "a template is made for a strict sandbox only")
    if getattr(task, "programs", None):
        return fail(_loader.EXIT_USAGE, "the app runs programs ([caps] subprocess): its workers need the filter's "
                    "process variant, which a template's forks do not get")
    # a root kernel supervises its workers' own sockets (the filter's notify variant): each worker installs its
    # own notify filter and hands the listener to its kernel; the template's is closed at once
    notify = os.environ.pop(_loader.ENV_SOCKETS, None) == "notify"
    namespaces = os.environ.pop(_loader.ENV_NAMESPACES, "")
    worker_id = os.environ.pop(_loader.ENV_WORKER_ID, "")
    pid = os.environ.get(_loader.ENV_KERNEL_PID, "")
    from . import _jail

    _signal.signal(_signal.SIGTERM, _loader._on_sigterm)
    try:
        # P closes its copy of the socket: C, PID 1 of the new pid namespace, holds it alone
        jail = _jail.isolate(os.getcwd(), namespaces, int(worker_id), ctl.fileno(),
                             int(pid) if pid.isdigit() else 0, task=task)
    except Exception as e:
        return fail(_loader.EXIT_UNCONFINED, "isolation failed: %s" % e)
    if not jail.namespaces:
        return fail(_loader.EXIT_UNCONFINED, "a template needs a pid namespace of its own (%s)" % jail.why_not)
    from . import _confine

    try:
        report = _confine.confine(os.getcwd(), rules=task.rules(), writable=task.writable(), template=True,
                                  notify=notify)
        if report.listener is not None:
            # nobody answers the template's own connect/bind/listen/accept (ENOSYS), and a child may then
            # install a listener of its own (one per filter chain)
            os.close(report.listener)
    except Exception as e:
        return fail(_loader.EXIT_UNCONFINED, "confinement failed: %s" % e)
    report_line = report.line() + ", " + jail.text()
    task.apply(os.environ)
    try:
        fn = _import_entry()
    except SystemExit as e:
        return fail(_loader.EXIT_USAGE, "the app's module exited while imported (%s)" % e.code)
    except BaseException as e:
        _loader._print_traceback(e)
        return fail(_loader.EXIT_USAGE, "the app's module could not be imported: %s: %s" % (type(e).__name__, e))
    if isinstance(fn, str):
        return fail(_loader.EXIT_USAGE, fn)
    why = _unforkable() or _lurking()
    if why:
        return fail(_loader.EXIT_USAGE, why)
    _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
    ctl.sendall(b"ready\n")
    return _serve(ctl, fn, report_line, task, notify)


def _import_entry():
    """Imports the entry's module as the loader does; the entry function, or a string saying what is wrong."""
    try:
        entry = _loader._entry_of_task(os)
        path, function = _loader._split_entry(entry)
    except _loader._Usage as e:
        return str(e)
    full = os.path.join(os.getcwd(), path)
    if not os.path.isfile(full):
        return "entry file %s not found in %s" % (path, os.getcwd())
    deps = os.path.join(os.getcwd(), "deps")
    sys.path[0:0] = [os.path.join(os.getcwd(), "src")] + ([deps] if os.path.isdir(deps) else [])
    sys.argv[:1] = [full]
    from ._policy import install

    install()
    module = _loader._load_module(_loader._module_name(os, path), full)
    fn = getattr(module, function, None)
    if fn is None or not callable(fn):
        return "%s has no function %s()" % (path, function)
    return fn


def _unforkable():
    """Why this process must not fork now (another thread runs: fork copies only the calling one, and a lock it
    held stays locked forever in the child), or None."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return ("the app's top-level code started %d threads; a template forks only a single-threaded process "
                "(start threads in the entry function)" % (threading.active_count() - 1))
    return None


def _lurking():
    """Why no worker may be forked from here: the app's top-level code left a process running (the template's filter
    allows fork), or None. Such a process keeps the template's confinement, not a worker's final one (signals to any
    pid of the namespace, the template's Landlock layer) and holds the host's control socket: it could take the fork
    orders, each with a worker's kernel connection and per-instance variables. Every process of the template's pid
    namespace is a descendant of this one (PID 1: orphans come back to it, ``CLONE_PARENT`` is refused), so one still
    running shows as a child here."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return ("the app's top-level code left a process running; a template forks only when its own process is "
                    "the only one (start processes in the entry function)")


def _serve(ctl, fn, report_line, task, notify):
    import json
    import select
    import socket

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    _signal.set_wakeup_fd(wake_w)
    _signal.signal(_signal.SIGCHLD, lambda signum, frame: None)
    children = set()
    while True:
        try:
            ready, _, _ = select.select([ctl, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap(ctl, children)
        if ctl not in ready:
            continue
        try:
            msg, fds, _, _ = socket.recv_fds(ctl, 65536, 3)
        except OSError:
            msg, fds = b"", []
        if not msg:
            return 0  # the host closed: exiting as PID 1 ends every worker of the namespace
        words = msg.decode("utf-8", "replace").rstrip("\n").split(" ", 2)
        if words[0] != "fork" or len(fds) != 3 or len(words) < 2:
            for fd in fds:
                os.close(fd)
            ctl.sendall(b"error malformed order\n")
            continue
        env = json.loads(words[2]) if len(words) > 2 else {}
        why = _unforkable()
        if why:
            for fd in fds:
                os.close(fd)
            ctl.sendall(b"error " + why.encode() + b"\n")
            continue
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:
            code = 71
            try:
                _signal.set_wakeup_fd(-1)
                _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
                os.close(wake_r)
                os.close(wake_w)
                ctl_fd = ctl.detach()
                os.close(ctl_fd)
                code = _worker(fds, words[1], env, fn, report_line, task, notify)
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        children.add(pid)
        ctl.sendall(b"forked %d\n" % pid)


def _reap(ctl, children):
    from . import _jail

    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)
        _remove_tree(INSTANCE_DIR % pid)
        try:
            ctl.sendall(b"exit %d %d\n" % (pid, _jail.exit_status(status)))
        except OSError:
            pass


def _remove_tree(path):
    try:
        entries = list(os.scandir(path))
    except OSError:
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            _remove_tree(e.path)
        else:
            try:
                os.unlink(e.path)
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _worker(fds, token, env, fn, report_line, task, notify):
    """The forked worker, up to its exit code (never returns into the template's loop: the caller exits)."""
    kernel_fd, out, err = fds
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)
    mine = INSTANCE_DIR % os.getpid()
    home, tmp = mine + "/home", mine + "/tmp"
    try:
        os.mkdir(mine, 0o700)
        os.mkdir(home, 0o700)
        os.mkdir(tmp, 0o700)
    except OSError as e:
        _loader._say("ukernel: warm start: cannot make the worker's directories: %s" % e)
        return _loader.EXIT_UNCONFINED
    os.environ.update(env)
    os.environ["HOME"], os.environ["TMPDIR"] = home, tmp
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile.tempdir = None  # computed again from TMPDIR
    import socket

    from . import _client, _confine

    try:  # hello first: the final filter's listener goes to this worker's kernel; no app code runs in between
        client = _client.Client.from_socket(socket.socket(fileno=kernel_fd), token)
    except Exception as e:
        _loader._say("ukernel: cannot reach the kernel: %s" % (getattr(e, "strerror", None) or e))
        return _loader.EXIT_KERNEL_GONE
    shared = (task.home(), task.tmp())
    rules = [(p, w) for p, w in task.rules() if p not in shared] + [(mine, True)]
    try:
        final = _confine.confine_instance(os.getcwd(), rules=rules, writable=task.writable(), notify=notify)
        if final.listener is not None:
            try:
                client.sandbox_notify(final.listener)
            finally:
                os.close(final.listener)  # the worker must never answer its own notifications
    except Exception as e:
        _loader._say("ukernel: warm start: the worker's final confinement failed, the task's code is not run: %s" % e)
        return _loader._finish(client, _loader.EXIT_UNCONFINED)
    random = sys.modules.get("random")
    if random is not None:
        random.seed()  # (os.fork reseeds it too; the template's state must never be a worker's)
    _loader._report(report_line + ", warm start: forked from the app's template (its own Landlock layer, writes "
                    "beneath " + mine + " and rw preopens only; the seccomp filter for its own pid"
                    + (", its own socket supervision" if final.listener is not None else "") + ")")
    package = sys.modules[__package__]
    package._default = client
    package._forked = False
    _signal.signal(_signal.SIGTERM, _loader._on_sigterm)
    try:
        code = _loader.call_entry(fn)
    finally:
        _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
    return _loader._finish(client, code)
