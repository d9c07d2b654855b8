"""Kernel statuses as Python exceptions.

Every status other than ``OK`` becomes a :class:`KernelError` subclass that also inherits the builtin
``OSError`` subclass asyncio and ordinary socket code already handle (PEP 3151): ``ERR_WOULDBLOCK`` is a
``BlockingIOError``, ``ERR_REFUSED`` a ``ConnectionRefusedError``, and so on. ``errno`` is set accordingly.
Failures outside the ABI's statuses have their own types: :class:`KernelGoneError` (the connection to the
kernel is lost) and :class:`ProtocolError` (a frame broke the wire format).
"""

import errno as _errno

from . import _abi

__all__ = [
    "KernelError", "UnsupportedError", "DeniedError", "BadHandleError", "InvalidArgumentError",
    "WouldBlockError", "InProgressError", "ClosedError", "LimitError", "NotFoundError", "TimedOutError",
    "KernelIOError", "RefusedError", "AddrInUseError", "TooBigError", "BusyError", "KernelGoneError",
    "ProtocolError",
    "error_for", "denied_message", "format_address",
]


class KernelError(OSError):
    """A kernel call answered with a status other than ``OK``.

    ``status`` is the status name (``"ERR_DENIED"``), ``code`` its number, ``call`` the name of the call that
    failed (or ``None``). A status this adapter does not know (a newer kernel) is raised as a plain
    ``KernelError`` with ``errno`` ``EIO``.
    """

    status = "ERR_UNKNOWN"
    code = -1
    _errno_value = _errno.EIO

    def __init__(self, message=None, call=None, *, code=None):
        if code is not None and code != type(self).code:
            self.code = code
            self.status = _abi.STATUS_NAMES.get(code, "ERR_%d" % code)
        if message is None:
            message = "%s: %s" % (call or "call", _REASONS.get(self.status, self.status))
        super().__init__(self._errno_value, message)
        self.call = call

    def __reduce__(self):
        return _rebuild, (type(self), self.strerror, self.call, self.code)


def _rebuild(cls, message, call, code):
    if cls is KernelError:
        return cls(message, call, code=code)
    return cls(message, call)


class UnsupportedError(KernelError):
    """``ERR_UNSUPPORTED`` (errno ``ENOSYS``): the call, or one of its argument values, is reserved in this ABI
    version or not implemented by this kernel yet."""

    status, code, _errno_value = "ERR_UNSUPPORTED", _abi.ERR_UNSUPPORTED, _errno.ENOSYS


class DeniedError(KernelError, PermissionError):
    """``ERR_DENIED`` (errno ``EACCES``): the task does not hold the capability the call needs (acquire it with
    ``ukernel.cap_acquire``; the app's ``ukernel.toml`` must grant it), ``cap_acquire`` asked beyond the task's
    ceiling, or a scope (``net.connect``/``net.bind`` allow-list, ``io`` preopen) refused the target. Also the
    kernel's answer to a ``hello`` with a bad token."""

    status, code, _errno_value = "ERR_DENIED", _abi.ERR_DENIED, _errno.EACCES


class BadHandleError(KernelError):
    """``ERR_BADHANDLE`` (errno ``EBADF``): the handle number is not open in this task, or names an object of
    another kind."""

    status, code, _errno_value = "ERR_BADHANDLE", _abi.ERR_BADHANDLE, _errno.EBADF


class InvalidArgumentError(KernelError):
    """``ERR_INVAL`` (errno ``EINVAL``): an argument is malformed or out of range (a bad mask, log level, exit
    code, name), or the request frame itself was malformed."""

    status, code, _errno_value = "ERR_INVAL", _abi.ERR_INVAL, _errno.EINVAL


class WouldBlockError(KernelError, BlockingIOError):
    """``ERR_WOULDBLOCK`` (errno ``EAGAIN``): the operation cannot complete now (queue empty or full); wait for
    readiness with ``io_poll`` and retry."""

    status, code, _errno_value = "ERR_WOULDBLOCK", _abi.ERR_WOULDBLOCK, _errno.EAGAIN


class InProgressError(KernelError, BlockingIOError):
    """``ERR_INPROGRESS`` (errno ``EINPROGRESS``): the operation (a connect) has started; readiness reports how
    it ends."""

    status, code, _errno_value = "ERR_INPROGRESS", _abi.ERR_INPROGRESS, _errno.EINPROGRESS


class ClosedError(KernelError, BrokenPipeError):
    """``ERR_CLOSED`` (errno ``EPIPE``): the object or its peer is closed; nothing more will be possible on it."""

    status, code, _errno_value = "ERR_CLOSED", _abi.ERR_CLOSED, _errno.EPIPE


class LimitError(KernelError):
    """``ERR_LIMIT`` (errno ``EDQUOT``): a quota set by the manifest's limits (tasks, handles, bytes queued per
    channel) is exhausted."""

    status, code, _errno_value = "ERR_LIMIT", _abi.ERR_LIMIT, _errno.EDQUOT


class NotFoundError(KernelError, FileNotFoundError):
    """``ERR_NOTFOUND`` (errno ``ENOENT``): the named file, preopen, manifest entry, host or task does not
    exist."""

    status, code, _errno_value = "ERR_NOTFOUND", _abi.ERR_NOTFOUND, _errno.ENOENT


class TimedOutError(KernelError, TimeoutError):
    """``ERR_TIMEOUT`` (errno ``ETIMEDOUT``): a deadline passed (in ABI v1 only as the outcome of a connect)."""

    status, code, _errno_value = "ERR_TIMEOUT", _abi.ERR_TIMEOUT, _errno.ETIMEDOUT


class KernelIOError(KernelError):
    """``ERR_IO`` (errno ``EIO``): the host failed the operation on the kernel's side."""

    status, code, _errno_value = "ERR_IO", _abi.ERR_IO, _errno.EIO


class RefusedError(KernelError, ConnectionRefusedError):
    """``ERR_REFUSED`` (errno ``ECONNREFUSED``): the peer refused the connection."""

    status, code, _errno_value = "ERR_REFUSED", _abi.ERR_REFUSED, _errno.ECONNREFUSED


class AddrInUseError(KernelError):
    """``ERR_ADDRINUSE`` (errno ``EADDRINUSE``): the address is already in use."""

    status, code, _errno_value = "ERR_ADDRINUSE", _abi.ERR_ADDRINUSE, _errno.EADDRINUSE


class TooBigError(KernelError):
    """``ERR_TOOBIG`` (errno ``EMSGSIZE``): a message or buffer exceeds a published limit (a log line over the
    limit, a frame over ``MAX_FRAME_BYTES``). Also raised by the adapter before sending such a frame."""

    status, code, _errno_value = "ERR_TOOBIG", _abi.ERR_TOOBIG, _errno.EMSGSIZE


class BusyError(KernelError):
    """``ERR_BUSY`` (errno ``EBUSY``, ABI 1.1): the socket is granted, so the worker holds its host descriptor and
    moves its bytes itself; the kernel no longer sends or receives on it, and its handle cannot move to another
    task. Use the ``socket.socket`` the grant returned."""

    status, code, _errno_value = "ERR_BUSY", _abi.ERR_BUSY, _errno.EBUSY


class KernelGoneError(ConnectionError):
    """The connection to the kernel is lost (or was never there: the process was not started by a ukernel
    kernel). No further call can succeed; the kernel ends a task whose connection closes."""

    def __init__(self, message="the connection to the kernel is lost", call=None):
        super().__init__(_errno.ECONNRESET, message)
        self.call = call

    def __reduce__(self):
        return type(self), (self.strerror, self.call)


class ProtocolError(OSError):
    """A frame broke the wire format (a bad tag, a truncated value, a length beyond ``MAX_FRAME_BYTES``, stray
    bytes, a reply to a request never sent). ``seq`` is the frame's sequence number when known, ``consumed``
    the frame's size when its boundary is known (else 0: the stream cannot be resynchronised)."""

    def __init__(self, message, seq=None, consumed=0):
        super().__init__(_errno.EPROTO, message)
        self.seq = seq
        self.consumed = consumed

    def __reduce__(self):
        return type(self), (self.strerror, self.seq, self.consumed)


_CLASSES = (
    UnsupportedError, DeniedError, BadHandleError, InvalidArgumentError, WouldBlockError, InProgressError,
    ClosedError, LimitError, NotFoundError, TimedOutError, KernelIOError, RefusedError, AddrInUseError, BusyError,
    TooBigError,
)
BY_CODE = {cls.code: cls for cls in _CLASSES}

_REASONS = {
    "ERR_UNSUPPORTED": "not supported by this kernel (reserved in this ABI version, or not implemented yet)",
    "ERR_DENIED": "denied",
    "ERR_BADHANDLE": "bad handle (not open in this task, or of another kind)",
    "ERR_INVAL": "invalid argument",
    "ERR_WOULDBLOCK": "would block (not ready; poll for readiness and retry)",
    "ERR_INPROGRESS": "in progress (readiness reports the outcome)",
    "ERR_CLOSED": "closed (the object or its peer is closed)",
    "ERR_LIMIT": "limit reached (see the limits in ukernel.toml)",
    "ERR_NOTFOUND": "not found",
    "ERR_TIMEOUT": "timed out",
    "ERR_IO": "I/O error in the kernel",
    "ERR_REFUSED": "connection refused",
    "ERR_ADDRINUSE": "address already in use",
    "ERR_TOOBIG": "too big (exceeds a published limit)",
    "ERR_BUSY": "busy (the socket is granted: the worker holds its descriptor)",
}

# Where a held capability can still be refused by a scope, say so.
_SCOPE_HINTS = {
    "net_bind": "; if NET is already held, the address must match a net.bind rule ([caps.net] bind)",
    "net_connect": "; if NET is already held, the address must match a net.connect rule ([caps.net] connect)",
    "io_open": "; if IO is already held, the preopen must be declared in [caps.io] and allow the access",
    "task_spawn": "; if TASK is already held, the caps passed must be within the caller's active set",
}
_NET_SCOPED = ("net_bind", "net_connect")


def _text(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", "backslashreplace")
    return str(v)


def format_address(host, port):
    """``host:port`` as an allow-list rule spells it: ``[::1]:80`` for IPv6, ``*:80`` for the wildcard ``""``."""
    host = _text(host)
    if not host:
        host = "*"
    elif ":" in host and not host.startswith("["):
        host = "[%s]" % host
    return "%s:%s" % (host, port)


def _target(call, args):
    """What the call aimed at, for messages: ``127.0.0.1:80``, ``"a/b" in preopen "data"`` (or ``None``)."""
    if not args:
        return None
    try:
        if call in _NET_SCOPED:
            return format_address(args[1], args[2])
        if call == "io_open":
            return '"%s" in preopen "%s"' % (_text(args[1]), _text(args[0]))
    except (IndexError, TypeError, ValueError):
        pass
    return None


def _escapes(path):
    """Whether an io_open path is refused before anything is opened: absolute, or with a ``..`` component."""
    path = _text(path)
    return path.startswith("/") or ".." in path.split("/")


def _scope_denied(call, args, target, held):
    """The reason a scope (allow-list, preopen) refused ``target``; ``held`` False/None adds the capability."""
    if call in _NET_SCOPED:
        kind = "bind" if call == "net_bind" else "connect"
        rule = format_address(args[1], args[2])
        reason = ("no net.%s rule allows %s — add it to [caps.net] in ukernel.toml, e.g. %s = [\"%s\"] (the "
                  "kernel's console line names the rule)" % (kind, target, kind, rule))
    elif _escapes(args[1]):
        reason = ("the path must be relative to the preopen, without \"..\" components: a task cannot leave "
                  "its preopened directories")
    else:
        flags = args[2] if isinstance(args[2], int) else 0
        writes = " the preopen is read-only (mode = \"ro\" in [caps.io]) and the flags ask to write," \
            if flags & ~_abi.OPEN_READ else ""
        reason = ("not allowed inside the preopen:%s a symbolic link on the way leads outside it, or the host "
                  "refuses access" % writes)
    if held is None:
        cap = _abi.CAP_NAMES[_abi.CALLS[call][1]]
        reason += "; or the task does not hold %s (ukernel.cap_acquire(ukernel.Cap.%s))" % (cap, cap)
    return "%s %s: denied: %s" % (call, target, reason)


def udp_denied_message(call, host, port):
    """The text of a ``DeniedError`` for a UDP ``net_bind``/``net_connect``/``net_sendto`` refused by the allow-list
    (ABI 1.2): a UDP rule is written ``udp:host:port``; a plain ``host:port`` rule is TCP only."""
    kind = "bind" if call == "net_bind" else "connect"
    rule = "udp:" + format_address(host, port)
    return ("%s %s: denied: no UDP net.%s rule allows %s — add it to [caps.net] in ukernel.toml, e.g. %s = [\"%s\"] "
            "(a rule without \"udp:\" is TCP only; the kernel's console line names the rule)"
            % (call, rule, kind, format_address(host, port), kind, rule))


def cap_names(mask):
    """``LOG|NET`` for a mask (unknown bits in hex), ``none`` for 0."""
    names = [name for bit, name in _abi.CAP_NAMES.items() if mask & bit]
    unknown = mask & ~sum(_abi.CAP_NAMES)
    if unknown:
        names.append(hex(unknown))
    return "|".join(names) or "none"


def denied_message(call, args=None, held=None):
    """The text of a ``DeniedError`` for ``call``: names the missing capability and how to get it, or, for a
    call with a scope (``net_bind``, ``net_connect``, ``io_open``) and its ``args``, the refused target and the
    manifest rule to add. ``held`` says whether the task holds the call's capability, when known."""
    if call == "hello":
        return ("hello: denied: the kernel refused the token in %s (not issued by this kernel, or already used)"
                % _abi.ENV_TOKEN)
    if call == "cap_acquire":
        asked = cap_names(args[0]) if args and isinstance(args[0], int) else "the capabilities asked for"
        return ("cap_acquire: denied: %s is beyond this task's ceiling — the app's ukernel.toml must grant it in "
                "[caps] grant, and it must not have been dropped or withheld by the parent task" % asked)
    spec = _abi.CALLS.get(call)
    bit = spec[1] if spec else 0
    if not bit:
        return "%s: denied" % call
    target = _target(call, args)
    if target is not None and held is not False:
        return _scope_denied(call, args, target, held)
    cap = _abi.CAP_NAMES.get(bit, hex(bit))
    if target is not None:
        return ("%s %s: denied: needs capability %s — call ukernel.cap_acquire(ukernel.Cap.%s); the app's "
                "ukernel.toml must grant it in [caps] grant" % (call, target, cap, cap))
    return ("%s: denied: needs capability %s — call ukernel.cap_acquire(ukernel.Cap.%s); the app's ukernel.toml "
            "must grant it in [caps] grant%s" % (call, cap, cap, _SCOPE_HINTS.get(call, "")))


def error_for(code, call=None, args=None):
    """The exception for status ``code`` returned by ``call`` (called with ``args``)."""
    cls = BY_CODE.get(code)
    if cls is None:
        return KernelError(None, call, code=code)
    if cls is DeniedError:
        return DeniedError(denied_message(call or "call", args), call)
    target = _target(call, args)
    if target is not None:  # say which address or path
        return cls("%s %s: %s" % (call, target, _REASONS[cls.status]), call)
    return cls(None, call)
