"""``KernelSocket``: a kernel TCP or UDP socket handle behind the part of ``socket.socket`` that asyncio uses.

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
- One kernel call per operation: ``recv`` is one ``net_recv`` (what the kernel holds, up to ``bufsize``), ``send``
  one ``net_send`` (what the kernel's buffer takes; asyncio keeps the rest and waits for ``WRITABLE``). A granted
  (direct) socket is a real ``socket.socket`` and never comes here.

UDP (ABI 1.2): ``KernelSocket(type=SOCK_DGRAM)`` is a kernel UDP socket. ``sendto`` is one ``net_sendto`` (the
kernel checks every datagram's destination against the ``udp:`` rules of ``net.connect``), ``recvfrom`` one
``net_recvfrom``; ``connect`` fixes the default destination (``send``/``recv`` then use it). Destinations are IP
literals or ``localhost``. A UDP socket is never granted: its datagrams always cross the kernel.

Creating a socket needs the ``NET`` capability: it is acquired on first use when the manifest grants it
(:func:`ensure_caps`); otherwise ``PermissionError`` says what to add to ``ukernel.toml``.
"""

import errno as _errno
import socket as _socket
import weakref as _weakref

from . import _abi
from ._calls import result
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
    udp_denied_message,
)

from ._granted import GrantedSocket

__all__ = ["KernelSocket", "ensure_caps", "ACCEPT_BATCH"]

_AF = {_socket.AF_INET: _abi.NET_AF_INET, _socket.AF_INET6: _abi.NET_AF_INET6}
_SHUT = {_socket.SHUT_RD: _abi.NET_SHUT_RD, _socket.SHUT_WR: _abi.NET_SHUT_WR, _socket.SHUT_RDWR: _abi.NET_SHUT_RDWR}
_SOCK_TYPE_MASK = ~(getattr(_socket, "SOCK_NONBLOCK", 0) | getattr(_socket, "SOCK_CLOEXEC", 0))
_HANDLE_CLOSE = _spec("handle_close")
_NET_ACCEPT = _spec("net_accept")
# Most net_accept calls one non-blocking accept() sends in one write (when the previous ones all found a connection).
ACCEPT_BATCH = 32


def _default_client():
    from . import client

    return client()


_held_caps = _weakref.WeakKeyDictionary()  # client -> the active set ensure_caps last saw


def ensure_caps(client, mask, what):
    """Makes sure the task holds the capabilities in ``mask`` before the asyncio layer uses them: acquires the
    missing ones within the task's ceiling (what ``ukernel.toml`` grants), or raises ``PermissionError`` saying
    which grant is missing. ``what`` names the use in that message. The active set is remembered on the client,
    so this costs a round trip only the first time."""
    held = _held_caps.get(client, 0)
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
    _held_caps[client] = active


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
                 "_laddr", "_raddr", "_target", "_reof", "_accepts", "_batch", "_dgram", "__weakref__")

    def __init__(self, family=_socket.AF_INET, type=_socket.SOCK_STREAM, proto=0, fileno=None, *, handle=None,
                 client=None, direct=False):
        if fileno is not None:
            raise OSError(_errno.EBADF, "a KernelSocket wraps a kernel handle (handle=...), not a host file "
                                        "descriptor")
        if family not in _AF:
            raise OSError(_errno.EAFNOSUPPORT, "kernel sockets are AF_INET or AF_INET6, not %r (Unix sockets and "
                                               "other families are not available to a worker)" % (family,))
        kind = _socket.SOCK_STREAM if type is None else type & _SOCK_TYPE_MASK
        if kind not in (_socket.SOCK_STREAM, _socket.SOCK_DGRAM):
            raise OSError(_errno.EPROTONOSUPPORT, "kernel sockets are TCP (SOCK_STREAM) or UDP (SOCK_DGRAM), not %r"
                          % (type,))
        if kind == _socket.SOCK_DGRAM and direct:
            raise OSError(_errno.EINVAL, "a UDP socket is never direct: the kernel checks every datagram")
        self._client = client = client if client is not None else _default_client()
        self._family = _socket.AddressFamily(family)
        self._dgram = kind == _socket.SOCK_DGRAM
        if handle is None:
            ensure_caps(client, _abi.CAP_NET, "a UDP socket" if self._dgram else "a TCP socket")
            if self._dgram:
                handle = client.net_socket(_AF[family], _abi.NET_SOCK_DGRAM)
            else:
                handle = client.net_socket(_AF[family], direct=direct)
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
        self._reof = False
        self._accepts = []  # (conn, address) accepted by a batch and not handed out yet
        self._batch = 1

    @classmethod
    def _accepted(cls, client, family, handle, peer):
        s = cls.__new__(cls)
        s._client = client
        s._family = family
        s._handle = handle
        s._dgram = False
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
        return _socket.SOCK_DGRAM if self._dgram else _socket.SOCK_STREAM

    @property
    def proto(self):
        return _socket.IPPROTO_UDP if self._dgram else _socket.IPPROTO_TCP

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
                return int(self.type)
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
        try:
            self._client.net_bind(self._live(), host, port)
        except DeniedError as e:
            if not self._dgram:
                raise
            raise DeniedError(udp_denied_message("net_bind", host, port), "net_bind") from e
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
        if self._dgram:
            try:
                self._client.net_connect(h, host, port)
            except DeniedError as e:
                raise DeniedError(udp_denied_message("net_connect", host, port), "net_connect") from e
            self._connected = True
            self._raddr = None
            self._laddr = None
            return
        self._target = (host, port)
        try:
            self._client.net_connect(h, host, port)
        except InProgressError:
            if self._timeout == 0.0:
                raise
            self._wait(_abi.EV_WRITABLE, "connect")
            self.finish_connect()
            return
        self._connected = True

    def connect_ex(self, address):
        try:
            self.connect(address)
        except OSError as e:
            return e.errno or _errno.EIO
        return 0

    def finish_connect(self):
        """After ``WRITABLE`` on a connecting socket: connected, or raises the connect's error."""
        h = self._live()
        status = self._client.net_error(h)
        if status != _abi.OK:
            host, port = self._target
            raise _connect_error(status, h, host, port)
        self._connected = True
        self._laddr = None

    def accept(self):
        """``(conn, address)``. On a direct listener (ABI 1.1) ``conn`` is the granted ``socket.socket`` of the
        connection (the kernel accepted, counted and audited it); else a ``KernelSocket``. A non-blocking accept
        asks for up to ``ACCEPT_BATCH`` pending connections in one write when the previous ask found them all
        waiting, and hands them out one per call."""
        queue = self._accepts
        if queue:
            return queue.pop(0)
        h = self._live()
        while True:
            if self._timeout == 0.0:
                self._accept_batch(h)
                if queue:
                    return queue.pop(0)
                raise BlockingIOError(_errno.EAGAIN, "Resource temporarily unavailable (no pending connection)")
            try:
                conn, host, port = self._client.net_accept(h)
                return self._accepted_pair(conn, host, port)
            except WouldBlockError:
                self._wait(_abi.EV_READABLE, "accept")

    def _accept_batch(self, h):
        """Asks for ``self._batch`` pending connections in one write; the ones the kernel had go to the queue."""
        client = self._client
        n = self._batch
        seqs = client.submit([(_NET_ACCEPT, (h,))] * n)
        error = None
        got = 0
        for reply in client.collect_all(seqs):
            fd = reply[3] if len(reply) > 3 else None
            try:
                conn, host, port = result(_NET_ACCEPT, reply, (h,))
            except WouldBlockError:
                continue
            except KernelError as e:
                error = error or e
                continue
            if fd is not None:
                conn = GrantedSocket(client, conn, fd)
            self._accepts.append(self._accepted_pair(conn, host.decode("utf-8", "replace"), port))
            got += 1
        self._batch = min(2 * n, ACCEPT_BATCH) if got == n else max(1, got)
        if error is not None and not self._accepts:
            raise error

    def _accepted_pair(self, conn, host, port):
        peer = (host, port) if self._family == _socket.AF_INET else (host, port, 0, 0)
        if isinstance(conn, int):
            conn = KernelSocket._accepted(self._client, self._family, conn, peer)
        return conn, peer

    # -- data ----------------------------------------------------------------------------------------------------

    def recv(self, bufsize, flags=0):
        if self._dgram:
            return self.recvfrom(bufsize, flags)[0]
        if self._reof:
            return b""
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
        if self._dgram:
            if not self._connected:
                raise OSError(_errno.EDESTADDRREQ, "send: the UDP socket is not connected; use sendto(data, address)")
            return self._sendto(data, "", 0)
        h = self._live()
        while True:
            try:
                return self._client.net_send(h, data)
            except WouldBlockError:
                if self._timeout == 0.0:
                    raise
                self._wait(_abi.EV_WRITABLE, "send")
            except ClosedError as e:
                raise BrokenPipeError(_errno.EPIPE, "send: the connection is closed or was reset (%s)"
                                      % (e.strerror or e)) from None

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
        """UDP: ``(data, address)``, the oldest datagram (cut to ``bufsize``) and its sender."""
        if not self._dgram:
            raise OSError(_errno.EOPNOTSUPP, "recvfrom: this kernel socket is TCP; use recv()")
        h = self._live()
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        while True:
            try:
                data, host, port = self._client.net_recvfrom(h, max(bufsize, 1))
                break
            except WouldBlockError:
                if self._timeout == 0.0:
                    raise
                self._wait(_abi.EV_READABLE, "recvfrom")
        return data[:bufsize], self._addr(host, port)

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        view = memoryview(buffer).cast("B")
        data, address = self.recvfrom(nbytes or len(view), flags)
        view[:len(data)] = data
        return len(data), address

    def sendto(self, data, flags_or_address, address=None):
        """UDP: sends ``data`` as one datagram to ``address`` (an IP literal or ``localhost``); the kernel checks it
        against the ``udp:`` rules of ``net.connect``. Returns ``len(data)``."""
        if not self._dgram:
            raise OSError(_errno.EOPNOTSUPP, "sendto: this kernel socket is TCP; use send()")
        if address is None:
            address = flags_or_address
        host, port = _split(address, "sendto")
        if self._connected and (host, port) == tuple(self.getpeername()[:2]):
            host, port = "", 0
        return self._sendto(data, host or "localhost" if port else host, port)

    def _sendto(self, data, host, port):
        h = self._live()
        while True:
            try:
                return self._client.net_sendto(h, data, host, port)
            except WouldBlockError:
                if self._timeout == 0.0:
                    raise
                self._wait(_abi.EV_WRITABLE, "sendto")

    def _wait(self, events, what):
        """Blocking mode: waits with io_poll until ``events`` (or HANGUP/ERROR), at most the timeout."""
        from ._objects import poll_timeout_ns

        ready = self._client.io_poll(((self._live(), events),), poll_timeout_ns(self._timeout))
        if not ready:
            raise TimeoutError(_errno.ETIMEDOUT, "%s timed out" % what)

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
        try:
            self._client.net_shutdown(self._live(), abi_how)
        except InvalidArgumentError:
            raise OSError(_errno.ENOTCONN, "Transport endpoint is not connected") from None
        if abi_how & _abi.NET_SHUT_RD and not self._dgram:
            self._reof = True

    def close(self):
        """Closes the socket (data the kernel holds is still sent). Never waits for the kernel (the reply is
        dropped), so it is safe from a finalizer or a signal handler too."""
        if self._closed:
            return
        self._closed = True
        h = self._handle
        client = self._client
        accepted, self._accepts = self._accepts, []
        for conn, _ in accepted:  # accepted by a batch, never handed out
            conn.close()
        if self._key is not None:
            client.forget_key(h)
            self._key = None
        self._handle = None
        client.post(_HANDLE_CLOSE, (h,))

    def detach(self):
        """Gives up the handle without closing it; returns its number."""
        h = self._live()
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

