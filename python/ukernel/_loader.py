"""The worker's loader: connect to the kernel, find the task's entry in ``ukernel.toml``, run it, report its exit.

``_boot.py`` calls :func:`main` in the extracted bundle directory. Environment read here:

``UKERNEL_ENDPOINT``, ``UKERNEL_TOKEN``
    the kernel's socket and this task's token (read by ``Client.connect``, then removed from the environment);
``UKERNEL_TASK``
    the task to run: ``main`` (default) is the manifest's top-level ``entry``, any other name the ``entry`` of
    the ``[[task]]`` with that ``name``;
``UKERNEL_ENTRY``
    optional: the entry itself (``path.py`` or ``path.py:function``), when the kernel passes it; the manifest is
    then not read, which keeps ``tomllib`` off the start-up path;
``UKERNEL_KERNEL_PID``
    optional: the kernel's pid; when it is not our parent any more the kernel is gone and we exit 70;
``UKERNEL_SANDBOX``
    ``strict`` (confine, report on stdout), ``off`` (run unconfined); unset: confine quietly (see ``_confine``);
``UKERNEL_NAMESPACES``, ``UKERNEL_WORKER_ID``
    strict mode only: ``auto``, ``on`` or ``off``, and the uid/gid the worker runs as (``_jail``). Unset (the
    loader run by hand), the worker gets no namespaces and keeps its uid.
``UKERNEL_SOCKETS``
    ``notify`` (strict mode, a root kernel): the seccomp filter's notify variant, whose listener is handed to the
    kernel (``sandbox_notify``) and closed before the app's code runs; the kernel then decides the ``connect``,
    ``bind``, ``listen`` and ``accept`` of sockets the app makes itself;
``UKERNEL_PREOPENS``, ``UKERNEL_TMP_BYTES``, ``UKERNEL_SCRATCH``
    the task's view (``_environ``): its preopens by path, the size of its private tmpfs, and a host scratch
    directory for HOME and TMPDIR where it may have no mount namespace. The app sees ``UKERNEL_PREOPEN_<NAME>``,
    ``HOME``, ``TMPDIR``, ``USER`` and ``LOGNAME`` instead.

Start-up, in order: death signal, connect + ``hello``, then ``_jail.isolate`` (namespaces and a minimal root;
this process, P, forks the worker C, PID 1 of a new pid namespace, and only supervises it from then on, exiting
with C's status; without namespaces there is no fork), the identity drop (never uid 0), ``_confine.confine``
(no_new_privs, Landlock, seccomp), and only then the app's code. docs/confinement.md has the why of each step.

Exit codes: the entry's return value (``None`` is 0), its ``SystemExit`` code, 1 for an uncaught exception
(traceback on stderr), 2 for a bad entry or manifest, 70 when the kernel cannot be reached, 71 when the worker
could not be confined or isolated, 130 for
``KeyboardInterrupt``, 143 for ``SIGTERM`` (raised as ``SystemExit(143)`` in the main thread, so ``finally``
blocks run). The code is reported with ``task_exit`` before the process exits. With namespaces, P exits with the
same code as C (``128 + s`` when C is killed by signal ``s``, e.g. 137 for SIGKILL).

The imports here are the worker's start-up cost: ``asyncio`` is imported only for a coroutine entry,
``tomllib`` only when the manifest must be read, ``traceback`` only when there is one to print.
"""

import _signal
import sys

MANIFEST = "ukernel.toml"
DEFAULT_ENTRY = "src/main.py"
DEFAULT_FUNCTION = "main"
ENV_TASK = "UKERNEL_TASK"
ENV_ENTRY = "UKERNEL_ENTRY"
ENV_KERNEL_PID = "UKERNEL_KERNEL_PID"
ENV_SANDBOX = "UKERNEL_SANDBOX"
ENV_NAMESPACES = "UKERNEL_NAMESPACES"
ENV_WORKER_ID = "UKERNEL_WORKER_ID"
ENV_TEMPLATE_SOCKET = "UKERNEL_TEMPLATE_SOCKET"
ENV_SOCKETS = "UKERNEL_SOCKETS"

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_KERNEL_GONE = 70
EXIT_UNCONFINED = 71  # strict mode and the host refused a confinement step: the app's code never ran
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect


class _Usage(Exception):
    """A bad manifest or entry: the message is printed as is and the exit code is 2."""


def main():
    """Runs the task; returns the process exit code."""
    import os

    if os.environ.get(ENV_TEMPLATE_SOCKET):
        from . import _template  # a warm template: confined, imports the app, then forks workers (_template.py)

        return _template.main()
    if not _die_with_kernel(os):
        return EXIT_KERNEL_GONE
    _line_buffered()
    from . import client

    try:
        kernel = client()
    except Exception as e:
        _say("ukernel: cannot reach the kernel: %s" % (getattr(e, "strerror", None) or e))
        return EXIT_KERNEL_GONE
    mode = os.environ.pop(ENV_SANDBOX, None)
    task = _task_view(os)
    if task is False:
        return _finish(kernel, EXIT_UNCONFINED)
    jail = _isolate(os, kernel, mode, task)  # with namespaces, only the worker C returns from here
    if jail is False or not _confine(os, mode, jail, task, kernel):
        return _finish(kernel, EXIT_UNCONFINED)
    if task is not None:
        task.apply(os.environ, _user_name(os) if mode == "off" else None)
    code = _run_task(os)
    return _finish(kernel, code)


def _task_view(os):
    """The preopens, tmpfs size and scratch directory the kernel passed (``_environ``), None when it passed none
    (the loader run by hand), False when they are malformed (the app's code must not run)."""
    if "UKERNEL_TMP_BYTES" not in os.environ and "UKERNEL_PREOPENS" not in os.environ:
        return None
    from . import _environ

    try:
        task = _environ.from_kernel(os.environ)
    except ValueError as e:
        _say("ukernel: the task's view from the kernel is malformed, the task's code is not run: %s" % e)
        return False
    for p in task.preopens:
        if not os.path.isdir(p.path):
            _say("ukernel: preopen %s: %s is not a directory; it is not in the worker's view (create it, or fix "
                 "its path in [caps.io])" % (p.name, p.path))
    return task


def _user_name(os):
    """The name of this process's user (unconfined: the kernel's own), else the worker's."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return None


def _isolate(os, kernel, mode, task=None):
    """Namespaces, minimal root and the identity drop (``_jail.py``); the :class:`_jail.Jail` applied, None when
    the kernel asked for none (unconfined, or the loader run by hand), False when isolation failed (the app's
    code must not run). Before ``_confine``: mounting and forking need the privileges it drops."""
    namespaces = os.environ.pop(ENV_NAMESPACES, None)
    worker_id = os.environ.pop(ENV_WORKER_ID, None)
    if mode != "strict" or namespaces is None:
        return None
    from . import _jail

    if namespaces not in ("auto", "on", "off") or not (worker_id or "").isdigit():
        _say("ukernel: isolation failed, the task's code is not run: bad %s=%r or %s=%r from the kernel"
             % (ENV_NAMESPACES, namespaces, ENV_WORKER_ID, worker_id))
        return False
    pid = os.environ.get(ENV_KERNEL_PID, "")
    # C signals SIGTERM's arrival as exit 143 from the start: PID 1 of a pid namespace ignores signals it has no
    # handler for, and the kernel's terminate must not wait for its grace period.
    _signal.signal(_signal.SIGTERM, _on_sigterm)
    try:
        return _jail.isolate(os.getcwd(), namespaces, int(worker_id), kernel.fileno(),
                             int(pid) if pid.isdigit() else 0, on_child=lambda: _keep_client(kernel), task=task)
    except Exception as e:
        _say("ukernel: isolation failed, the task's code is not run: %s (sandbox mode \"strict\", namespaces "
             "\"%s\"; --insecure-no-sandbox runs it unconfined)" % (e, namespaces))
        return False


def _keep_client(kernel):
    # os.fork's at-fork hook forgets the process-wide client in the child (a forked worker must not share the
    # connection): here the child is the worker and P lets go of its copy, so C keeps it.
    package = sys.modules[__package__]
    package._default = kernel
    package._forked = False


def _confine(os, mode, jail, task=None, kernel=None):
    """Confines this process (``_confine.py``) now that it holds its only door, the kernel connection, and before
    any of the app's code is imported; False when that fails in strict mode. ``UKERNEL_SANDBOX`` (set by the
    kernel): ``strict`` confines and reports what was applied on stdout, for the console; ``off`` says the worker is
    unconfined. Unset (the loader run by hand or by tests), the worker is confined all the same, quietly.
    ``UKERNEL_SOCKETS=notify`` (a root kernel): the notify variant of the filter, whose listener goes to the kernel
    (``sandbox_notify``) and is closed here, before any of the app's code exists."""
    from . import _abi

    notify = os.environ.pop(ENV_SOCKETS, None) == "notify" and mode == "strict" and kernel is not None
    if mode == "off":
        _report(_abi.REPORT_UNCONFINED + "the sandbox is off (--insecure-no-sandbox or [sandbox] mode = \"off\"); "
                "this worker can reach the host directly")
        return True
    from . import _confine

    try:
        programs, processes, not_in_force = _programs(task, jail)
        report = _confine.confine(os.getcwd(), rules=task.rules() if task is not None else (),
                                  writable=task is not None and task.writable(), programs=programs,
                                  processes=processes, not_in_force=not_in_force, notify=notify)
        if report.listener is not None:
            try:
                kernel.sandbox_notify(report.listener)  # the kernel holds its own copy once this returns
            finally:
                os.close(report.listener)  # the worker must never answer its own notifications
    except Exception as e:
        _say("ukernel: confinement failed, the task's code is not run: %s (sandbox mode \"strict\"; "
             "--insecure-no-sandbox runs it unconfined)" % e)
        return False
    if mode is not None:
        _report(report.line() + ("" if jail is None else ", " + jail.text()))
    return True


def _programs(task, jail):
    """``(real paths, processes, why not)``: the files the task's children may execute, whether it may create them
    at all, and why the listed programs are not in force. Subprocesses need the worker's own pid namespace (there
    the only pids a child could signal are the task's, and all die with its PID 1); without one the programs stay
    refused and stderr says why."""
    if task is None or not task.programs:
        return (), False, None
    if jail is None or "pid" not in jail.namespaces:
        why = jail.why_not if jail is not None and jail.why_not else "no namespaces"
        not_in_force = ("[caps] subprocess is not in force: running programs needs the worker's own pid namespace, "
                        "and this worker has none (%s); allow namespaces ([sandbox] namespaces = \"auto\" on a host "
                        "that allows them, or run the kernel as root)" % why)
        sys.stderr.write("ukernel: %s\n" % not_in_force)
        return (), False, not_in_force
    return [real for _, real in task.program_files()], True, None


def _report(line):
    """Writes the confinement report: the first line of stdout, flushed before the app's code is imported. The
    kernel trusts that one line (it starts with ``_abi.REPORT_CONFINED`` / ``REPORT_UNCONFINED``) and no other;
    docs/confinement.md, "The console". Nothing may be printed to stdout before it."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _die_with_kernel(os):
    """Asks Linux to SIGKILL us when the kernel dies; False when it is already gone."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(_signal.SIGKILL), 0, 0, 0)
        except Exception:
            pass
    pid = os.environ.get(ENV_KERNEL_PID)
    if pid and pid.isdigit() and os.getppid() != int(pid):
        _say("ukernel: the kernel (pid %s) is gone; exiting" % pid)
        return False
    return True


def _line_buffered():
    # -I ignores PYTHONUNBUFFERED: without this a pipe would hold print() output until exit.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError, OSError):
            pass


def _run_task(os):
    try:
        entry = _entry_of_task(os)
        path, function = _split_entry(entry)
        full = os.path.join(os.getcwd(), path)
        if not os.path.isfile(full):
            raise _Usage("ukernel: entry file %s not found in %s (set entry in %s)" % (path, os.getcwd(), MANIFEST))
    except _Usage as e:
        _say(str(e))
        return EXIT_USAGE
    deps = os.path.join(os.getcwd(), "deps")  # requirements.txt's packages, installed at build
    sys.path[0:0] = [os.path.join(os.getcwd(), "src")] + ([deps] if os.path.isdir(deps) else [])
    sys.argv[:1] = [full]
    _signal.signal(_signal.SIGTERM, _on_sigterm)
    try:
        try:
            from ._policy import install as _kernel_event_loop  # asyncio.run() in the app uses the kernel's loop

            _kernel_event_loop()
            module = _load_module(_module_name(os, path), full)
            fn = getattr(module, function, None)
            if fn is None:
                _say('ukernel: %s has no function %s() (set entry = "file.py:function" in %s)'
                     % (path, function, MANIFEST))
                return EXIT_USAGE
            if not callable(fn):
                _say('ukernel: %s: %s is a %s, not a function (set entry = "file.py:function" in %s)'
                     % (path, function, type(fn).__name__, MANIFEST))
                return EXIT_USAGE
        except SystemExit as e:
            return _code_of_exit(e)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        except BaseException as e:
            _print_traceback(e)
            return EXIT_ERROR
        return call_entry(fn)
    finally:
        _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)


def call_entry(fn):
    """Runs the entry function ``fn`` (a coroutine function on the kernel's event loop); returns the exit code.
    Also the start of a worker forked from a template (``_template``), whose module is already imported."""
    try:
        if _is_coroutine_function(fn):
            value = _run_coroutine(fn)
        else:
            value = fn()
            if hasattr(value, "__await__"):  # a wrapped async function
                awaitable = value
                value = _run_coroutine(lambda: _await(awaitable))
        return _code_of_result(value)
    except SystemExit as e:
        return _code_of_exit(e)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BaseException as e:
        _print_traceback(e)
        return EXIT_ERROR


def _on_sigterm(signum, frame):
    raise SystemExit(EXIT_TERMINATED)


def _run_coroutine(fn):
    """Runs an async entry to completion and returns its result. The one place that chooses the event loop: the
    kernel's (``_loop.KernelEventLoop``: one epoll for host descriptors and a parked ``io_poll``; granted or kernel
    sockets)."""
    import asyncio

    from ._loop import KernelEventLoop

    with asyncio.Runner(loop_factory=KernelEventLoop) as runner:
        return runner.run(fn())


async def _await(awaitable):
    return await awaitable


def _entry_of_task(os):
    task = os.environ.get(ENV_TASK) or "main"
    entry = os.environ.get(ENV_ENTRY)
    if entry:
        return entry
    try:
        with open(MANIFEST, "rb") as f:
            text = f.read().decode("utf-8")
    except FileNotFoundError:
        raise _Usage("ukernel: no %s in %s (the bundle is incomplete)" % (MANIFEST, os.getcwd())) from None
    except UnicodeDecodeError as e:
        raise _Usage("ukernel: %s is not UTF-8: %s" % (MANIFEST, e)) from None
    entry = quick_entry(text) if task == "main" else None
    if entry is not None:
        where = "entry"
    else:
        entry, where = _parse_entry(text, task)
    if not isinstance(entry, str) or not entry:
        raise _Usage('ukernel: %s in %s must be a string like "src/main.py" or "src/main.py:main", got %r'
                     % (where, MANIFEST, entry))
    return entry


def quick_entry(text):
    """The manifest's top-level ``entry = "..."`` when written in that plain form, else ``None``.

    ``tomllib`` costs more than the rest of the loader together (it imports ``re``, ``typing``, ``datetime``),
    and the kernel has already validated the manifest, so the common form is read directly. Anything unusual
    (another spelling of the key, a literal or escaped string, a multi-line string anywhere, no ``entry``)
    answers ``None`` and the manifest is parsed with ``tomllib``.
    """
    if '"""' in text or "'''" in text:
        return None
    found = None
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] == "#":
            continue
        if s[0] == "[":
            break  # the top-level keys end at the first table
        if s[0] in "\"'":
            return None  # a quoted key could be "entry"
        if not s.startswith("entry"):
            continue
        rest = s[5:].lstrip()
        if rest[:1] != "=":
            return None  # entry.x, entry_point, ...: leave it to tomllib
        value = rest[1:].lstrip()
        end = value.find('"', 1)
        if value[:1] != '"' or end < 0 or "\\" in value[1:end] or found is not None:
            return None
        tail = value[end + 1:].lstrip()
        if tail and tail[0] != "#":
            return None
        found = value[1:end]
    return found


def _parse_entry(text, task):
    import tomllib

    try:
        manifest = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _Usage("ukernel: %s: %s" % (MANIFEST, e)) from None
    if task == "main":
        return manifest.get("entry", DEFAULT_ENTRY), "entry"
    tasks = manifest.get("task", [])
    found = [t for t in tasks if isinstance(t, dict) and t.get("name") == task] if isinstance(tasks, list) else []
    if not found:
        raise _Usage("ukernel: no [[task]] named %r in %s" % (task, MANIFEST))
    return found[0].get("entry"), "the entry of [[task]] %r" % task


def _split_entry(entry):
    path, sep, function = entry.partition(":")  # as the manifest check reads it: the first colon
    if not sep:
        return entry, DEFAULT_FUNCTION
    if not function.isidentifier():
        raise _Usage('ukernel: entry %r: %r is not a function name (entry = "file.py:function")' % (entry, function))
    return path, function


def _module_name(os, path):
    name = os.path.basename(path)
    if name.endswith(".py"):
        name = name[:-3]
    # Named after its file, not __main__, so that an `if __name__ == "__main__":` block does not run and the
    # app's own modules can import it by name. Never replace a module already loaded (e.g. src/signal.py).
    return name if name not in sys.modules else "_ukernel_entry_" + name


def _load_module(name, path):
    try:  # what importlib.util re-exports, without importing importlib.util (and contextlib) at start-up
        from importlib._bootstrap import module_from_spec
        from importlib._bootstrap_external import spec_from_file_location
    except ImportError:
        from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location(name, path)
    module = module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _is_coroutine_function(fn):
    code = getattr(fn, "__code__", None)
    return code is not None and bool(code.co_flags & _CO_COROUTINE)


def _code_of_result(value):
    if isinstance(value, int):
        return int(value)
    return 0


def _code_of_exit(e):
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return int(code)
    _say(str(code))  # as the interpreter does for sys.exit("message")
    return EXIT_ERROR


def _print_traceback(e):
    import traceback

    internal = [__file__, "<frozen importlib"]
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and getattr(asyncio, "__file__", None):
        internal.append(asyncio.__file__.rpartition("/")[0] + "/")
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(tuple(internal)):
        tb = tb.tb_next
    try:
        traceback.print_exception(type(e), e, tb, file=sys.stderr)  # tb is None for a SyntaxError: just its lines
        sys.stderr.flush()
    except Exception:
        pass


def _finish(kernel, code):
    code &= 0xFF  # what the process's exit status will be; task_exit takes 0-255
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    if kernel.exit_code is None:
        if getattr(kernel, "channels", None):  # sends ukernel.aio buffered and the loop did not hand over yet
            try:
                from ._objects import flush_all

                flush_all(kernel)
            except Exception:
                pass
        try:
            kernel.task_exit(code)
        except Exception:  # the kernel is gone, or refuses: the process's exit code still tells it
            pass
    return code


def _say(line):
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:
        pass
