"""ukernel: the Python adapter of the ukernel application kernel.

A worker reaches every resource through kernel calls over one Unix-socket connection. The module-level
functions use a process-wide :class:`Client` (``ukernel.client()``), connected on first use from
``UKERNEL_ENDPOINT`` and ``UKERNEL_TOKEN``. A task starts with no active capability: acquire what it needs,
e.g. ``ukernel.cap_acquire(ukernel.Cap.LOG)``, within what the app's ``ukernel.toml`` grants.

Importing ukernel is cheap on purpose (it is on the worker's start-up path): the enums and ``LogHandler`` are
built on first access.
"""

import os as _os
from _thread import allocate_lock as _allocate_lock

from . import _abi
from ._client import Client
from ._errors import (
    AddrInUseError,
    BadHandleError,
    ClosedError,
    DeniedError,
    InProgressError,
    InvalidArgumentError,
    KernelError,
    KernelGoneError,
    KernelIOError,
    LimitError,
    NotFoundError,
    ProtocolError,
    RefusedError,
    TimedOutError,
    TooBigError,
    UnsupportedError,
    WouldBlockError,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # enums
    "Cap", "Status", "LogLevel",
    # the client
    "Client", "client",
    # calls
    "abi_version", "cap_acquire", "cap_drop", "cap_query",
    "log", "debug", "info", "warn", "warning", "error", "LogHandler",
    "time_monotonic_ns", "time_wall_ns",
    "task_self", "task_yield", "task_exit",
    # errors
    "KernelError", "UnsupportedError", "DeniedError", "BadHandleError", "InvalidArgumentError",
    "WouldBlockError", "InProgressError", "ClosedError", "LimitError", "NotFoundError", "TimedOutError",
    "KernelIOError", "RefusedError", "AddrInUseError", "TooBigError", "KernelGoneError", "ProtocolError",
]

TYPE_CHECKING = False
if TYPE_CHECKING:  # the lazy names below, for type checkers
    from ._enums import Cap, LogLevel, Status
    from ._logging import LogHandler
del TYPE_CHECKING

_LAZY = {"Cap": "_enums", "Status": "_enums", "LogLevel": "_enums", "LogHandler": "_logging"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'ukernel' has no attribute %r" % (name,))
    if module == "_enums":
        from . import _enums as m
    else:
        from . import _logging as m
    value = getattr(m, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


# -- the process-wide client -------------------------------------------------------------------------------------

_default = None
_default_lock = _allocate_lock()
_forked = False


def client():
    """The process-wide :class:`Client`, connected on first use (``KernelGoneError`` when it cannot be)."""
    c = _default
    if c is None:
        c = _connect_default()
    return c


def _connect_default():
    global _default
    with _default_lock:
        if _default is None:
            if _forked:
                raise KernelGoneError("this process was forked from a worker: only the worker itself is "
                                      "connected to the kernel (start other tasks with task_spawn)")
            _default = Client.connect()
        return _default


def _after_fork_in_child():
    global _default, _default_lock, _forked
    _default = None  # never share the parent's connection: replies would go to the wrong process
    _default_lock = _allocate_lock()
    _forked = True


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_after_fork_in_child)


# -- calls -------------------------------------------------------------------------------------------------------

_CAP_BITS = {name: bit for bit, name in _abi.CAP_NAMES.items()}
_LEVELS = {"DEBUG": _abi.LOG_DEBUG, "INFO": _abi.LOG_INFO, "WARN": _abi.LOG_WARN, "WARNING": _abi.LOG_WARN,
           "ERROR": _abi.LOG_ERROR, "CRITICAL": _abi.LOG_ERROR}


def _mask(caps):
    mask = 0
    for c in caps:
        if isinstance(c, str):
            for part in c.replace(",", "|").split("|"):
                bit = _CAP_BITS.get(part.strip().upper())
                if bit is None:
                    raise ValueError("unknown capability %r; the capabilities are %s"
                                     % (part.strip(), ", ".join(_CAP_BITS)))
                mask |= bit
        elif isinstance(c, int):
            mask |= c
        elif isinstance(c, (list, tuple, set, frozenset)):
            mask |= _mask(c)
        else:
            raise TypeError("a capability is a ukernel.Cap or a name like 'LOG', got %s" % type(c).__name__)
    return mask


def _cap(mask):
    cap = globals().get("Cap") or __getattr__("Cap")
    return cap(mask)


def abi_version():
    """The kernel's ABI version, ``major << 16 | minor``."""
    return client().abi_version()


def cap_acquire(*caps):
    """Acquires capabilities (``Cap`` flags, or names like ``"LOG"``), all or none; returns the active set.

    Raises ``DeniedError`` when one is beyond what the app's ``ukernel.toml`` grants in ``[caps] grant``.
    """
    return _cap(client().cap_acquire(_mask(caps)))


def cap_drop(*caps):
    """Drops capabilities irrevocably (they can never be acquired again by this task); returns the active set."""
    return _cap(client().cap_drop(_mask(caps)))


def cap_query():
    """``(active, ceiling)``: the capabilities the task holds, and those it may still acquire."""
    active, ceiling = client().cap_query()
    return _cap(active), _cap(ceiling)


def _level(level):
    if isinstance(level, str):
        try:
            return _LEVELS[level.upper()]
        except KeyError:
            raise ValueError("unknown log level %r; use DEBUG, INFO, WARN or ERROR" % level) from None
    return level


def log(message, level=_abi.LOG_INFO):
    """Writes ``message`` (``str`` or ``bytes``) to the kernel console at ``level`` (a ``LogLevel``, a
    ``logging`` level number, or a name). Needs the ``LOG`` capability."""
    client().log(message, _level(level))


def debug(message):
    """``log(message, LogLevel.DEBUG)``."""
    client().log(message, _abi.LOG_DEBUG)


def info(message):
    """``log(message, LogLevel.INFO)``."""
    client().log(message, _abi.LOG_INFO)


def warn(message):
    """``log(message, LogLevel.WARN)``."""
    client().log(message, _abi.LOG_WARN)


warning = warn


def error(message):
    """``log(message, LogLevel.ERROR)``."""
    client().log(message, _abi.LOG_ERROR)


def time_monotonic_ns():
    """Nanoseconds since the kernel booted, never decreasing (needs ``TIME``)."""
    return client().time_monotonic_ns()


def time_wall_ns():
    """Wall-clock nanoseconds since the Unix epoch (needs ``TIME``)."""
    return client().time_wall_ns()


def task_self():
    """``(task_id, name)`` of this task."""
    return client().task_self()


def task_yield():
    """Lets other tasks' pending requests be served first."""
    client().task_yield()


def task_exit(code=0):
    """Ends this task with ``code`` (0-255): tells the kernel, then raises ``SystemExit(code)`` so the process
    exits with the same code (``finally`` blocks run, but the kernel no longer answers calls)."""
    client().task_exit(code)
    raise SystemExit(code)
