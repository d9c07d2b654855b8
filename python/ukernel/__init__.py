"""ukernel: the Python adapter of the ukernel application kernel.

A worker reaches every resource through kernel calls over one Unix-socket connection. The module-level
functions use a process-wide :class:`Client` (``ukernel.client()``), connected on first use from
``UKERNEL_ENDPOINT`` and ``UKERNEL_TOKEN``. A task starts with no active capability: acquire what it needs,
e.g. ``ukernel.cap_acquire(ukernel.Cap.LOG)``, within what the app's ``ukernel.toml`` grants.

Every ABI call has a function here (``ipc_send``, ``net_connect``, ``io_open``, ``io_poll``, ...) taking and
returning handles as ``int``; :class:`Channel`, :class:`Task` and :class:`File` wrap channel endpoints, task
handles and files. asyncio runs on the kernel: :class:`KernelEventLoop` (one epoll for host descriptors and a
parked ``io_poll`` for kernel objects; granted sockets or :class:`KernelSocket`s) is the event loop of
``asyncio.run`` in a worker, and ``ukernel.aio`` has awaitable channels, tasks and files.

Importing ukernel is cheap on purpose (it is on the worker's start-up path): the enums, ``LogHandler``,
``Channel`` and ``Task`` are built on first access.
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
    BusyError,
    UnsupportedError,
    WouldBlockError,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # enums
    "Cap", "Status", "LogLevel", "Event", "OpenFlag", "Whence", "TaskState", "StatKind",
    # constants
    "EV_READABLE", "EV_WRITABLE", "EV_HANGUP", "EV_ERROR",
    "OPEN_READ", "OPEN_WRITE", "OPEN_CREATE", "OPEN_TRUNCATE", "OPEN_APPEND", "OPEN_EXCLUSIVE",
    "SEEK_SET", "SEEK_CUR", "SEEK_END",
    "AF_INET", "AF_INET6", "SOCK_STREAM", "SOCK_DGRAM", "NET_SHUT_RD", "NET_SHUT_WR", "NET_SHUT_RDWR",
    "NET_ADDR_LOCAL", "NET_ADDR_PEER",
    "TASK_RUNNING", "TASK_EXITED", "STAT_FILE", "STAT_DIRECTORY", "STAT_OTHER",
    # the client
    "Client", "client",
    # objects
    "Channel", "Task", "File",
    # asyncio
    "KernelEventLoop", "KernelEventLoopPolicy", "KernelSelector", "KernelSocket",
    # calls
    "abi_version", "cap_acquire", "cap_drop", "cap_query", "handle_close",
    "log", "debug", "info", "warn", "warning", "error", "LogHandler",
    "time_monotonic_ns", "time_wall_ns",
    "task_self", "task_yield", "task_exit", "task_spawn", "task_status",
    "ipc_channel_create", "ipc_send", "ipc_recv", "ipc_close", "ipc_send_many", "ipc_recv_many",
    "net_socket", "net_bind", "net_listen", "net_accept", "net_connect", "net_send", "net_recv",
    "net_shutdown", "net_close", "net_addr", "net_error", "net_sendto", "net_recvfrom", "programs",
    "io_open", "io_read", "io_write", "io_seek", "io_stat", "io_close", "io_poll", "poll",
    # errors
    "KernelError", "UnsupportedError", "DeniedError", "BadHandleError", "InvalidArgumentError",
    "WouldBlockError", "InProgressError", "ClosedError", "LimitError", "NotFoundError", "TimedOutError",
    "KernelIOError", "RefusedError", "AddrInUseError", "TooBigError", "BusyError", "KernelGoneError", "ProtocolError",
]

# Constants in friendly form (the enums below hold the same numbers). The NET_* names keep their prefix: the
# ABI's shutdown and address numbers differ from the socket module's. net_socket takes socket.AF_INET too.
EV_READABLE = _abi.EV_READABLE
EV_WRITABLE = _abi.EV_WRITABLE
EV_HANGUP = _abi.EV_HANGUP
EV_ERROR = _abi.EV_ERROR
OPEN_READ = _abi.OPEN_READ
OPEN_WRITE = _abi.OPEN_WRITE
OPEN_CREATE = _abi.OPEN_CREATE
OPEN_TRUNCATE = _abi.OPEN_TRUNCATE
OPEN_APPEND = _abi.OPEN_APPEND
OPEN_EXCLUSIVE = _abi.OPEN_EXCLUSIVE
SEEK_SET = _abi.SEEK_SET
SEEK_CUR = _abi.SEEK_CUR
SEEK_END = _abi.SEEK_END
AF_INET = _abi.NET_AF_INET
AF_INET6 = _abi.NET_AF_INET6
SOCK_STREAM = _abi.NET_SOCK_STREAM
SOCK_DGRAM = _abi.NET_SOCK_DGRAM
NET_SHUT_RD = _abi.NET_SHUT_RD
NET_SHUT_WR = _abi.NET_SHUT_WR
NET_SHUT_RDWR = _abi.NET_SHUT_RDWR
NET_ADDR_LOCAL = _abi.NET_ADDR_LOCAL
NET_ADDR_PEER = _abi.NET_ADDR_PEER
TASK_RUNNING = _abi.TASK_RUNNING
TASK_EXITED = _abi.TASK_EXITED
STAT_FILE = _abi.STAT_FILE
STAT_DIRECTORY = _abi.STAT_DIRECTORY
STAT_OTHER = _abi.STAT_OTHER

TYPE_CHECKING = False
if TYPE_CHECKING:  # the lazy names below, for type checkers
    from ._enums import Cap, Event, LogLevel, OpenFlag, StatKind, Status, TaskState, Whence
    from ._logging import LogHandler
    from ._loop import KernelEventLoop, KernelEventLoopPolicy
    from ._objects import Channel, File, Task
    from ._selector import KernelSelector
    from ._socket import KernelSocket
del TYPE_CHECKING

_LAZY = {"Cap": "_enums", "Status": "_enums", "LogLevel": "_enums", "Event": "_enums", "OpenFlag": "_enums",
         "Whence": "_enums", "TaskState": "_enums", "StatKind": "_enums", "LogHandler": "_logging",
         "Channel": "_objects", "Task": "_objects", "File": "_objects", "KernelEventLoop": "_loop",
         "KernelEventLoopPolicy": "_loop", "KernelSelector": "_selector", "KernelSocket": "_socket"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'ukernel' has no attribute %r" % (name,))
    m = __import__(__name__ + "." + module, fromlist=(name,))
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


def handle_close(handle):
    """Closes a handle of any kind (no capability needed)."""
    client().handle_close(handle)


def task_spawn(entry, caps, handles=()):
    """Starts the ``[[task]]`` named ``entry`` with at most ``caps`` (``Cap`` flags or names, within the active
    set), moving ``handles`` into it as its handles 1, 2, ...; returns the task handle (an ``int``; see
    ``ukernel.Task.spawn`` for an object). Needs ``TASK``."""
    return client().task_spawn(entry, _mask((caps,)), handles)


def task_status(task):
    """``(state, exit_code)`` of a task handle: ``TASK_RUNNING`` and 0, or ``TASK_EXITED`` and its code."""
    return client().task_status(task)


def ipc_channel_create():
    """``(h0, h1)``: a new channel's two endpoints (see ``ukernel.Channel.pair`` for objects). Needs ``IPC``."""
    return client().ipc_channel_create()


def ipc_send(channel, data, handles=()):
    """Queues ``data`` toward the peer endpoint, moving ``handles`` with it."""
    client().ipc_send(channel, data, handles)


def ipc_recv(channel):
    """``(data, handles)``: the next message on ``channel`` and the handles it carried."""
    return client().ipc_recv(channel)


def ipc_close(channel):
    """Closes a channel endpoint; the peer sees ``EV_HANGUP``."""
    client().ipc_close(channel)


def ipc_send_many(channel, messages):
    """(ABI 1.3) Queues the longest prefix of ``messages`` (``bytes``, or ``(bytes, handles)``) that fits, in one
    call; returns how many were queued. Needs ``IPC``."""
    return client().ipc_send_many(channel, messages)


def ipc_recv_many(channel, max_msgs=_abi.MAX_BATCH_MSGS, max_bytes=_abi.MAX_BATCH_BYTES):
    """(ABI 1.3) The oldest queued messages on ``channel`` as ``[(data, handles), ...]``, in one call."""
    return client().ipc_recv_many(channel, max_msgs, max_bytes)


def net_socket(family=AF_INET, type=SOCK_STREAM):
    """A new socket handle (``AF_INET``/``AF_INET6``, the ABI's or the socket module's): TCP, or UDP with
    ``type=SOCK_DGRAM`` (ABI 1.2). Needs ``NET``."""
    return client().net_socket(family, type)


def net_bind(sock, host, port):
    """Binds to ``host:port`` if a ``[caps.net] bind`` rule allows it (port 0: ephemeral)."""
    client().net_bind(sock, host, port)


def net_listen(sock, backlog=0):
    """Starts accepting connections on a bound socket."""
    client().net_listen(sock, backlog)


def net_accept(sock):
    """``(conn, peer_host, peer_port)``: a pending connection (``BlockingIOError`` when none)."""
    return client().net_accept(sock)


def net_connect(sock, host, port):
    """Starts connecting to ``host:port`` if a ``[caps.net] connect`` rule allows it; raises a
    ``BlockingIOError`` with errno ``EINPROGRESS`` while the connect goes on (then poll ``EV_WRITABLE`` and read
    ``net_error``)."""
    client().net_connect(sock, host, port)


def net_send(sock, data):
    """Queues what fits of ``data``; returns the count."""
    return client().net_send(sock, data)


def net_recv(sock, n):
    """Up to ``n`` bytes; ``b""`` is end of stream."""
    return client().net_recv(sock, n)


def net_shutdown(sock, how):
    """Shuts down ``NET_SHUT_RD``, ``NET_SHUT_WR`` or ``NET_SHUT_RDWR`` (not ``socket.SHUT_*``)."""
    client().net_shutdown(sock, how)


def net_close(sock):
    """Closes a socket."""
    client().net_close(sock)


def net_addr(sock, which=NET_ADDR_LOCAL):
    """``(host, port)``: the local or (``NET_ADDR_PEER``) peer address."""
    return client().net_addr(sock, which)


def net_error(sock):
    """Takes the socket's pending error status (0 when none)."""
    return client().net_error(sock)


def programs():
    """The real paths of the files this task's children may execute: the manifest's ``[caps] subprocess`` as the
    kernel resolved it (a name found on its ``PATH``, an absolute path), with their ELF interpreters; empty when the
    task may run none, or runs unconfined (the sandbox then checks nothing)."""
    from . import _confine

    return _confine.RUNNABLE


def net_sendto(sock, data, host="", port=0):
    """Sends one datagram from a UDP socket to ``host:port`` (an IP literal or ``localhost``; ``""``/0: the connected
    peer), if a ``udp:`` rule of ``[caps.net] connect`` allows it; returns ``len(data)``."""
    return client().net_sendto(sock, data, host, port)


def net_recvfrom(sock, n):
    """``(data, host, port)``: the oldest datagram queued on a UDP socket, cut to ``n`` bytes, and its sender."""
    return client().net_recvfrom(sock, n)


def io_open(preopen, path, flags=OPEN_READ):
    """Opens ``path`` inside the preopen named ``preopen`` (``[caps.io]``) with ``OPEN_*`` flags; returns a file
    handle. Needs ``IO``."""
    return client().io_open(preopen, path, flags)


def io_read(file, n):
    """Up to ``n`` bytes; ``b""`` is end of file."""
    return client().io_read(file, n)


def io_write(file, data):
    """Writes ``data``; returns the count written."""
    return client().io_write(file, data)


def io_seek(file, offset, whence=SEEK_SET):
    """Moves the file position; returns the new one."""
    return client().io_seek(file, offset, whence)


def io_stat(file):
    """``(size, mtime_ns, kind)`` of an open file."""
    return client().io_stat(file)


def io_close(file):
    """Closes a file."""
    client().io_close(file)


def io_poll(pairs, timeout_ns=None):
    """``[(handle, events), ...]``: the ``(handle, interest)`` pairs that are ready, waiting at most
    ``timeout_ns`` (``None``: forever; 0: check once); ``[]`` when the timeout passed."""
    return client().io_poll(pairs, timeout_ns)


def poll(pairs, timeout=None):
    """``io_poll`` with ``timeout`` in seconds (a float; ``None`` waits forever, ``<= 0`` checks once)."""
    from ._objects import poll_timeout_ns

    return client().io_poll(pairs, poll_timeout_ns(timeout))
