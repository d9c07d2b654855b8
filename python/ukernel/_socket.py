"""``KernelSocket``: a kernel TCP socket handle behind the part of ``socket.socket`` that asyncio uses.

asyncio's selector event loop and its transports drive a socket through a small surface: ``fileno``,
``setblocking``, ``recv``/``recv_into``, ``send``, ``connect`` raising ``BlockingIOError(EINPROGRESS)``,
``getsockopt(SOL_SOCKET, SO_ERROR)``, ``getpeername``/``getsockname``, ``shutdown``, ``close``, ``accept``,
``bind``, ``listen``, ``family``/``type``/``proto`` and option setters. ``KernelSocket`` implements exactly that on
the kernel's ``net_*`` calls, so the stock transports, streams and servers run on kernel sockets unchanged.

- ``fileno()`` is not a host file descriptor: it is the client's key for the handle (``Client.key_of``, 2**30 and
  above), which the kernel event loop's selector maps back to the handle for ``io_poll``.
- Errors are the exceptions socket code expects: ``BlockingIOError`` (``ERR_WOULDBLOCK``, ``ERR_INPROGRESS``),
  ``ConnectionRefusedError``, ``ConnectionResetError`` (a reset seen by ``recv``), ``BrokenPipeError`` (a send on
  a closed or reset connection), ``TimeoutError``, and ``PermissionError`` naming the ``[caps.net]`` rule to add
  when the manifest does not allow a ``bind``/``connect``.
- Blocking mode (the default, as for ``socket.socket``) and timeouts wait with ``io_poll``; asyncio switches its
  sockets to non-blocking.
- The event loop batches (see ``_selector``): it *prefetches* (when ``io_poll`` reports sockets readable it reads
  them all in one batch and leaves the bytes here, so the transport's ``recv()`` costs no round trip), and it
  *writes behind*: on the loop's thread, ``send()`` of a socket that carries a transport queues the bytes here
  (at most ``WRITE_BEHIND_BYTES``; beyond that it takes what fits, or raises ``BlockingIOError``, which is
  asyncio's back-pressure) and the selector sends every socket's queue in one batch with its next poll. A
  ``shutdown(SHUT_WR)`` or ``close()`` waits for the queue to be handed to the kernel, in order; an error the
  kernel reports for queued bytes (the connection was reset) is raised by the next ``send()``.

Creating a socket needs the ``NET`` capability: it is acquired on first use when the manifest grants it
(:func:`ensure_caps`); otherwise ``PermissionError`` says what to add to ``ukernel.toml``.
"""

import errno as _errno
import socket as _socket
from _thread import get_ident as _get_ident

from . import _abi
from ._calls import spec as _spec
from ._errors import (
    BY_CODE,
    ClosedError,
    DeniedError,
    InProgressError,
    InvalidArgumentError,
    KernelError,
    WouldBlockError,
    cap_names,
    denied_message,
    error_for,
    format_address,
)

__all__ = ["KernelSocket", "ensure_caps", "PREFETCH_BYTES", "WRITE_BEHIND_BYTES"]

# What the selector prefetches per readable socket: asyncio's transports read max_size (256 KiB) at a time.
PREFETCH_BYTES = 256 * 1024
# Most bytes queued in a socket for the selector's next batch (one net_send frame carries them).
WRITE_BEHIND_BYTES = 512 * 1024

_AF = {_socket.AF_INET: _abi.NET_AF_INET, _socket.AF_INET6: _abi.NET_AF_INET6}
_SHUT = {_socket.SHUT_RD: _abi.NET_SHUT_RD, _socket.SHUT_WR: _abi.NET_SHUT_WR, _socket.SHUT_RDWR: _abi.NET_SHUT_RDWR}
_SOCK_TYPE_MASK = ~(getattr(_socket, "SOCK_NONBLOCK", 0) | getattr(_socket, "SOCK_CLOEXEC", 0))
_NET_RECV = _spec("net_recv")
_HANDLE_CLOSE = _spec("handle_close")


def _default_client():
    from . import client

    return client()


def ensure_caps(client, mask, what):
    """Makes sure the task holds the capabilities in ``mask`` before the asyncio layer uses them: acquires the
    missing ones within the task's ceiling (what ``ukernel.toml`` grants), or raises ``PermissionError`` saying
    which grant is missing. ``what`` names the use in that message. The active set is remembered on the client,
    so this costs a round trip only the first time."""
    held = getattr(client, "_aio_caps", 0)
    if held & mask == mask:
        return
    active, ceiling = client.cap_query()
    missing = mask & ~active
    if missing:
        if missing & ~ceiling:
            name = cap_names(missing & ~ceiling)
            raise DeniedError("%s needs the %s capability, which this task cannot acquire: grant it in ukernel.toml "
                              "([caps] grant = [..., \"%s\"]), and do not drop it (cap_drop)"
                              % (what, name, name.replace("|", "\", \"")), "cap_acquire")
        active = client.cap_acquire(missing)
    client._aio_caps = active


def _host(host):
    if host is None:
        return ""
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("idna")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def _split(address, what):
    if not isinstance(address, tuple) or len(address) not in (2, 4):
        raise TypeError("%s(): AF_INET address must be a pair (host, port), got %r" % (what, address))
    port = address[1]
    if not isinstance(port, int):
        try:
            port = _socket.getservbyname(port, "tcp") if isinstance(port, str) and not port.isdigit() else int(port)
        except (OSError, ValueError, TypeError):
            raise OSError(_errno.EINVAL, "%s(): bad port %r" % (what, address[1])) from None
    return _host(address[0]), port


def _connect_error(status, handle, host, port):
    """The exception for a failed connect's outcome (``net_error``)."""
    if status == _abi.ERR_DENIED:
        return DeniedError(denied_message("net_connect", (handle, host, port), True), "net_connect")
    if status == _abi.ERR_NOTFOUND:
        return _socket.gaierror(_socket.EAI_NONAME, "connect to %s: the kernel could not resolve %r (to an address of "
                                "the socket's family)" % (format_address(host, port), host))
    cls = BY_CODE.get(status)
    if cls is None:
        return error_for(status, "net_connect", (handle, host, port))
    return cls("connect to %s: %s" % (format_address(host, port), _REASONS.get(status, cls.status)), "net_connect")


_REASONS = {
    _abi.ERR_REFUSED: "connection refused",
    _abi.ERR_TIMEOUT: "connection timed out",
    _abi.ERR_IO: "the host failed the connect",
    _abi.ERR_CLOSED: "connection closed",
}


def _reset(e):
    return ConnectionResetError(_errno.ECONNRESET, "connection reset: %s" % (e.strerror or e))


class KernelSocket:
    """A TCP socket in the kernel: ``KernelSocket(family=AF_INET)`` creates one (``net_socket``);
    ``KernelSocket(handle=h)`` wraps a socket handle this task holds (e.g. one received over a channel)."""

    __slots__ = ("_client", "_handle", "_closed", "_key", "_family", "_timeout", "_connected", "_listening",
                 "_laddr", "_raddr", "_target", "_rbuf", "_reof", "_rerr", "_wsel", "_wbuf", "_wlen", "_wshut",
                 "_wclose", "_werr", "_wblocked", "_wdeadline", "_winflight", "__weakref__")

    def __init__(self, family=_socket.AF_INET, type=_socket.SOCK_STREAM, proto=0, fileno=None, *, handle=None,
                 client=None):
        if fileno is not None:
            raise OSError(_errno.EBADF, "a KernelSocket wraps a kernel handle (handle=...), not a host file "
                                        "descriptor")
        if family not in _AF:
            raise OSError(_errno.EAFNOSUPPORT, "kernel sockets are AF_INET or AF_INET6, not %r (Unix sockets and "
                                               "other families are not available to a worker)" % (family,))
        if type is not None and (type & _SOCK_TYPE_MASK) != _socket.SOCK_STREAM:
            raise OSError(_errno.EPROTONOSUPPORT, "kernel sockets are TCP (SOCK_STREAM): UDP is reserved in ABI v1")
        self._client = client = client if client is not None else _default_client()
        self._family = _socket.AddressFamily(family)
        if handle is None:
            ensure_caps(client, _abi.CAP_NET, "a TCP socket")
            handle = client.net_socket(_AF[family])
        self._handle = handle
        self._init_state()

    def _init_state(self):
        self._closed = False
        self._key = None
        self._timeout = None
        self._connected = False
        self._listening = False
        self._laddr = None
        self._raddr = None
        self._target = None
        self._rbuf = None
        self._reof = False
        self._rerr = None
        self._wsel = None  # the selector that writes behind for this socket (set by the event loop)
        self._wbuf = []  # bytes queued for the selector's next batch
        self._wlen = 0
        self._wshut = False  # a shutdown(SHUT_WR) waits for the queue
        self._wclose = False  # a close() waits for the queue
        self._werr = None  # the error the kernel reported for queued bytes
        self._wblocked = False  # the kernel took nothing or part: wait for WRITABLE before sending more
        self._wdeadline = None
        self._winflight = 0  # bytes of a net_send in flight (sent by the selector, not yet answered)

    @classmethod
    def _accepted(cls, client, family, handle, peer):
        s = cls.__new__(cls)
        s._client = client
        s._family = family
        s._handle = handle
        s._init_state()
        s._connected = True
        s._raddr = peer
        return s

    # -- identity ------------------------------------------------------------------------------------------------

    @property
    def family(self):
        return self._family

    @property
    def type(self):
        return _socket.SOCK_STREAM

    @property
    def proto(self):
        return _socket.IPPROTO_TCP

    @property
    def handle(self):
        """The kernel handle, or ``None`` once closed or detached."""
        return None if self._closed else self._handle

    @property
    def client(self):
        return self._client

    def fileno(self):
        """The key the kernel event loop's selector maps to this socket's handle (not a host file descriptor);
        -1 once closed, as for ``socket.socket``."""
        key = self._key
        if key is None:
            if self._closed:
                return -1
            key = self._key = self._client.key_of(self._handle, self)
        return key

    def __repr__(self):
        if self._closed:
            return "<ukernel.KernelSocket [closed] family=%s>" % self._family.name
        parts = ["handle=%d" % self._handle, "family=%s" % self._family.name]
        if self._laddr:
            parts.append("laddr=%r" % (self._laddr,))
        if self._raddr:
            parts.append("raddr=%r" % (self._raddr,))
        return "<ukernel.KernelSocket %s>" % " ".join(parts)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getstate__(self):
        raise TypeError("cannot pickle a KernelSocket (move its handle to another task with a channel)")

    # -- modes ---------------------------------------------------------------------------------------------------

    def setblocking(self, flag):
        self._timeout = None if flag else 0.0

    def getblocking(self):
        return self._timeout != 0.0

    def settimeout(self, value):
        if value is not None:
            value = float(value)
            if value < 0:
                raise ValueError("Timeout value out of range")
        self._timeout = value

    def gettimeout(self):
        return self._timeout

    def setsockopt(self, level, option, value, optlen=None):
        """Accepted and ignored: the kernel sets what TCP sockets need (``SO_REUSEADDR`` on bind, non-blocking
        host sockets); ``TCP_NODELAY``, ``SO_KEEPALIVE``, buffer sizes and the like are the kernel's to choose."""

    def getsockopt(self, level, option, buflen=None):
        if level == _socket.SOL_SOCKET:
            if option == _socket.SO_ERROR:
                status = self._client.net_error(self._live())
                return 0 if status == _abi.OK else BY_CODE[status]._errno_value if status in BY_CODE else _errno.EIO
            if option == _socket.SO_TYPE:
                return int(_socket.SOCK_STREAM)
            if option == _socket.SO_REUSEADDR:
                return 1
        if level == _socket.IPPROTO_TCP and option == getattr(_socket, "TCP_NODELAY", -1):
            return 1
        return 0 if buflen is None else bytes(buflen)

    # -- connection set-up ---------------------------------------------------------------------------------------

    def _live(self):
        if self._closed:
            raise OSError(_errno.EBADF, "Bad file descriptor (the KernelSocket is closed)")
        return self._handle

    def bind(self, address):
        host, port = _split(address, "bind")
        self._client.net_bind(self._live(), host, port)
        self._laddr = None

    def listen(self, backlog=0):
        self._client.net_listen(self._live(), backlog)
        self._listening = True

    def connect(self, address):
        host, port = _split(address, "connect")
        h = self._live()
        if self._target is not None and not self._connected:  # a blocking connect's second call, as socket does
            raise OSError(_errno.EALREADY, "Operation already in progress")
        if not host:
            host = "localhost"
        self._target = (host, port)
        try:
            self._client.net_connect(h, host, port)
        except InProgressError:
            if self._timeout == 0.0:
                raise
            self._wait(_abi.EV_WRITABLE, "connect")
            self._connect_finished()
            return
        self._connected = True

    def connect_ex(self, address):
        try:
            self.connect(address)
        except OSError as e:
            return e.errno or _errno.EIO
        return 0

    def _connect_finished(self):
        """After ``WRITABLE`` on a connecting socket: connected, or raises the connect's error."""
        h = self._live()
        status = self._client.net_error(h)
        if status != _abi.OK:
            host, port = self._target
            raise _connect_error(status, h, host, port)
        self._connected = True
        self._laddr = None

    def accept(self):
        h = self._live()
        while True:
            try:
                conn, host, port = self._client.net_accept(h)
                break
            except WouldBlockError:
                if self._timeout == 0.0:
                    raise
                self._wait(_abi.EV_READABLE, "accept")
        peer = (host, port) if self._family == _socket.AF_INET else (host, port, 0, 0)
        sock = KernelSocket._accepted(self._client, self._family, conn, peer)
        return sock, peer

    # -- data ----------------------------------------------------------------------------------------------------

    def recv(self, bufsize, flags=0):
        data = self._rbuf
        if data is not None:
            if len(data) > bufsize:
                self._rbuf = data[bufsize:]
                return data[:bufsize]
            self._rbuf = None
            return data
        if self._reof:
            return b""
        if self._rerr is not None:
            e, self._rerr = self._rerr, None
            raise e
        h = self._live()
        if bufsize <= 0:
            if bufsize < 0:
                raise ValueError("negative buffersize in recv")
            return b""
        while True:
            try:
                data = self._client.net_recv(h, bufsize)
                break
            except WouldBlockError:
                if self._timeout == 0.0:
                    raise
                self._wait(_abi.EV_READABLE, "recv")
            except ClosedError as e:
                raise _reset(e) from None
        if not data:
            self._reof = True
        return data

    def recv_into(self, buffer, nbytes=0, flags=0):
        view = memoryview(buffer).cast("B")
        n = nbytes or len(view)
        data = self.recv(n, flags)
        k = len(data)
        view[:k] = data
        return k

    def send(self, data, flags=0):
        sel = self._wsel
        if sel is not None and sel._thread == _get_ident():
            # Write-behind: queued here, sent with the selector's next batch.
            if self._werr is not None:
                raise self._werr
            self._live()
            if self._wshut:
                raise BrokenPipeError(_errno.EPIPE, "send after shutdown(SHUT_WR)")
            room = WRITE_BEHIND_BYTES - self._wlen - self._winflight
            if room <= 0:
                raise BlockingIOError(_errno.EAGAIN, "Resource temporarily unavailable (the send queue is full)")
            n = len(data)
            if n > room:
                data = data[:room]
                n = room
            elif not n:
                return 0
            self._wbuf.append(data if type(data) is bytes else bytes(data))
            self._wlen += n
            sel._dirty.add(self)
            return n
        if self._wlen or self._winflight:
            raise RuntimeError("KernelSocket.send() from another thread while the event loop holds unsent bytes "
                               "of this socket (sockets driven by an event loop are not thread-safe)")
        h = self._live()
        while True:
            try:
                return self._client.net_send(h, data)
            except WouldBlockError:
                if self._timeout == 0.0:
                    raise
                self._wait(_abi.EV_WRITABLE, "send")

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        if ancdata or address is not None:
            raise OSError(_errno.EOPNOTSUPP, "kernel sockets take no ancillary data and no address")
        buffers = list(buffers)
        return self.send(buffers[0] if len(buffers) == 1 else b"".join(buffers))

    def sendall(self, data, flags=0):
        view = memoryview(data).cast("B")
        sent = 0
        while sent < len(view):
            sent += self.send(view[sent:])

    def recvfrom(self, bufsize, flags=0):
        raise OSError(_errno.EOPNOTSUPP, "recvfrom: kernel sockets are TCP; UDP is reserved in ABI v1")

    def sendto(self, *args):
        raise OSError(_errno.EOPNOTSUPP, "sendto: kernel sockets are TCP; UDP is reserved in ABI v1")

    def _wait(self, events, what):
        """Blocking mode: waits with io_poll until ``events`` (or HANGUP/ERROR), at most the timeout."""
        from ._objects import poll_timeout_ns

        ready = self._client.io_poll(((self._live(), events),), poll_timeout_ns(self._timeout))
        if not ready:
            raise TimeoutError(_errno.ETIMEDOUT, "%s timed out" % what)

    # -- prefetch (the selector's batched reads) ------------------------------------------------------------------

    def _prefetchable(self):
        return self._connected and self._rbuf is None and not self._reof and self._rerr is None and not self._closed

    def _prefetched(self, reply):
        """Stores the outcome of a ``net_recv`` the selector made for this socket; True when something was kept."""
        from ._calls import result

        try:
            data = result(_NET_RECV, reply, ())
        except WouldBlockError:
            return False
        except ClosedError as e:
            self._rerr = _reset(e)
            return True
        except KernelError as e:
            self._rerr = e
            return True
        if data:
            self._rbuf = data
        else:
            self._reof = True
        return True

    def _has_buffered(self):
        return self._rbuf is not None or self._reof or self._rerr is not None

    def _write_failed(self, e):
        """The kernel refused queued bytes: the error goes to the next send(), the queue is dropped."""
        if isinstance(e, ClosedError):
            e = BrokenPipeError(_errno.EPIPE, "send: the connection is closed or was reset (%s)" % (e.strerror or e))
        self._werr = e
        self._wbuf = []
        self._wlen = 0
        self._wshut = False

    # -- addresses, shutdown, close ------------------------------------------------------------------------------

    def _addr(self, host, port):
        return (host, port) if self._family == _socket.AF_INET else (host, port, 0, 0)

    def getsockname(self):
        a = self._laddr
        if a is None:
            host, port = self._client.net_addr(self._live(), _abi.NET_ADDR_LOCAL)
            a = self._addr(host, port)
            if self._connected or self._listening:
                self._laddr = a
        return a

    def getpeername(self):
        a = self._raddr
        if a is None:
            try:
                host, port = self._client.net_addr(self._live(), _abi.NET_ADDR_PEER)
            except InvalidArgumentError:
                raise OSError(_errno.ENOTCONN, "Transport endpoint is not connected") from None
            a = self._raddr = self._addr(host, port)
        return a

    def shutdown(self, how):
        try:
            abi_how = _SHUT[how]
        except KeyError:
            raise ValueError("shutdown: how must be SHUT_RD, SHUT_WR or SHUT_RDWR, got %r" % (how,)) from None
        self._live()
        if abi_how & _abi.NET_SHUT_WR and (self._wlen or self._winflight):
            # The queued bytes go first: the selector shuts writing down once they are with the kernel.
            self._wshut = True
            self._wsel._dirty.add(self)
            abi_how &= ~_abi.NET_SHUT_WR
            if not abi_how:
                return
        try:
            self._client.net_shutdown(self._live(), abi_how)
        except InvalidArgumentError:
            raise OSError(_errno.ENOTCONN, "Transport endpoint is not connected") from None
        if abi_how & _abi.NET_SHUT_RD:
            self._rbuf = None
            self._reof = True

    def close(self):
        """Closes the socket (queued data is still sent by the kernel). Never waits for the kernel: the close
        travels with the next frame, so it is safe from a finalizer or a signal handler too."""
        if self._closed:
            return
        self._closed = True
        h = self._handle
        self._rbuf = None
        self._rerr = None
        client = self._client
        if self._key is not None:
            client.forget_key(h)
            self._key = None
        if (self._wlen or self._winflight or self._wshut) and self._werr is None and self._wsel is not None:
            self._wclose = True  # the selector closes it once the queued bytes are with the kernel
            self._wsel._dirty.add(self)
            return
        self._handle = None
        client.post(_HANDLE_CLOSE, (h,))

    def detach(self):
        """Gives up the handle without closing it; returns its number."""
        h = self._live()
        if self._wlen or self._winflight or self._wshut:
            raise RuntimeError("detach(): the event loop still holds unsent bytes of this socket")
        self._closed = True
        self._handle = None
        if self._key is not None:
            self._client.forget_key(h)
            self._key = None
        return h

    def dup(self):
        raise OSError(_errno.EOPNOTSUPP, "dup: a kernel socket has one handle; move it with a channel instead")

    def makefile(self, *args, **kwargs):
        raise OSError(_errno.EOPNOTSUPP, "makefile: use asyncio streams (asyncio.open_connection) on kernel sockets")

