"""The kernel's asyncio event loop: asyncio's selector loop on :class:`KernelSelector` (``io_poll``) and
:class:`KernelSocket` (``net_*``), so that ordinary asyncio code runs unmodified on kernel handles.

What changes from ``asyncio.SelectorEventLoop``:

- **Selector**: :class:`KernelSelector`: one ``epoll`` for host descriptors (asyncio's own self-pipe, which wakes
  the loop for ``call_soon_threadsafe`` and signals as usual) and the kernel connection, on which an ``io_poll``
  for the kernel objects stays parked. Timers (``call_later``, ``sleep``, ``wait_for``) are the ``epoll``'s
  timeout.
- **Sockets**: ``create_connection``/``open_connection`` and ``create_server``/``start_server`` ask the kernel
  for authority: with ABI 1.1 they use *direct* sockets, where the kernel checks the connect (or accepts each
  connection on its listener) and grants the host descriptor, a real ``socket.socket`` that asyncio's own
  transports drive through the ``epoll`` (the bytes no longer cross the kernel); ``UKERNEL_NET_DIRECT=0`` or a
  kernel without direct sockets gives :class:`KernelSocket`s, whose every read and write is a kernel call.
  ``getaddrinfo`` passes host names through: the kernel resolves them at ``net_connect`` (the worker has no
  network access of its own).
- **Subprocesses** (``create_subprocess_exec``/``_shell``): asyncio's own transports over pipes in the same
  ``epoll``; the child's exit is a ``pidfd`` in it too (no watcher thread, no ``SIGCHLD`` handler). In a confined
  worker only the programs the manifest lists (``[caps] subprocess``) run; others raise ``PermissionError`` naming
  what to add (docs/confinement.md, "Subprocesses").
- **UDP** (ABI 1.2): ``create_datagram_endpoint`` on a kernel UDP socket (:class:`KernelSocket` with
  ``SOCK_DGRAM``): ``local_addr`` is a ``net_bind`` (``udp:`` rules of ``net.bind``), ``remote_addr`` a
  ``net_connect`` (``udp:`` rules of ``net.connect``), and each ``sendto`` a ``net_sendto`` the kernel checks.
  asyncio's own datagram transport drives it; the selector waits on the kernel for its readiness.
- **Host descriptors the worker owns** (``os.pipe()``, a ``socketpair``, asyncio's self-pipe, granted sockets) are
  watched in the selector's ``epoll``: ``add_reader``/``add_writer`` and ``connect_read_pipe``/
  ``connect_write_pipe`` work on them as on any loop.
- **Not available** (``NotImplementedError`` saying why): Unix sockets.

``install()`` makes this loop asyncio's default in this process (an event loop policy); the worker's loader does
it before the app's code runs, so ``asyncio.run(main())`` in an app uses this loop.
"""

import asyncio
import errno as _errno
import functools
import os as _os
import socket as _socket
from asyncio import base_events as _base_events
from asyncio import events as _events
from asyncio import exceptions as _exceptions
from asyncio import tasks as _tasks

from . import _abi
from ._errors import UnsupportedError
from ._granted import GrantedSocket
from ._selector import KernelSelector
from ._socket import KernelSocket, ensure_caps

__all__ = ["KernelEventLoop", "KernelEventLoopPolicy", "WorkerSelectorEventLoop", "install", "run"]

# The kernel grants host descriptors of direct sockets from ABI 1.1 on.
_DIRECT_ABI = (1 << 16) | 1
_NO_UNIX = "Unix sockets are not available to a ukernel worker; use TCP on kernel sockets (the NET capability)"
_NO_UDP = ("UDP needs ukernel ABI 1.2 (net_sendto/net_recvfrom); this kernel speaks an older one: only TCP endpoints "
           "can be created")
_UDP_ABI = (1 << 16) | 2


def _check_ssl_socket(sock):
    """asyncio's refusal of an ``ssl.SSLSocket`` (TLS is a transport over a plain socket), before anything else."""
    ssl = getattr(_base_events, "ssl", None)
    if ssl is not None and isinstance(sock, ssl.SSLSocket):
        raise TypeError("Socket cannot be of type SSLSocket")


def _service_port(name):
    """The port of a service name, as the host's resolver would give it; when the worker cannot look it up (its
    confinement does not let it read the services database), ``socket.gaierror`` saying to give the number."""
    try:
        return _socket.getservbyname(name, "tcp")
    except OSError:
        raise _socket.gaierror(_socket.EAI_SERVICE, "port %r: a ukernel worker cannot look up service names (no "
                                                    "services database of the host's); give the port number"
                               % (name,)) from None


def _ip_family(host):
    """AF_INET or AF_INET6 for an IP literal, else None."""
    for af in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(af, host)
            return af
        except (OSError, ValueError):
            pass
    return None


class KernelEventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop over the kernel ABI (see the module's documentation). ``client`` defaults to the
    process-wide client; several loops (e.g. one per thread) may share it.

    ``direct`` (default: true unless the worker's environment sets ``UKERNEL_NET_DIRECT=0``): connections and
    servers use direct sockets when the kernel grants them (ABI 1.1), kernel-buffered sockets otherwise."""

    direct = _os.environ.get("UKERNEL_NET_DIRECT", "1") != "0"

    def __init__(self, client=None):
        if client is None:
            from . import client as default_client

            client = default_client()
        self._kclient = client
        self._direct_ok = None  # None: not tried yet; False: the kernel refused a direct socket
        super().__init__(KernelSelector(client))

    @property
    def kernel_client(self):
        return self._kclient

    # -- name resolution: the kernel resolves at connect -----------------------------------------------------------

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        """Addresses for ``host`` without asking the host's resolver (a worker has no network of its own): an IP
        literal is returned as is; a name is returned unresolved, for the kernel to resolve at ``net_connect``
        (against the socket's family: AF_INET unless ``family`` says otherwise). ``host=None`` is the wildcard
        with ``AI_PASSIVE`` (servers), else the loopback address."""
        if isinstance(host, (bytes, bytearray)):
            host = bytes(host).decode("idna")
        if isinstance(port, (bytes, bytearray)):
            port = bytes(port).decode()
        if port is None:
            port = 0
        elif isinstance(port, str):
            port = int(port) if port.isdigit() else _service_port(port)
        if type == 0:
            type = _socket.SOCK_STREAM
        if host is None:
            af = _socket.AF_INET6 if family == _socket.AF_INET6 else _socket.AF_INET
            if flags & _socket.AI_PASSIVE:
                host = "::" if af == _socket.AF_INET6 else "0.0.0.0"
            else:
                host = "::1" if af == _socket.AF_INET6 else "127.0.0.1"
        else:
            if host.startswith("[") and host.endswith("]"):
                host = host[1:-1]
            af = _ip_family(host)
            if af is None:
                af = _socket.AF_INET6 if family == _socket.AF_INET6 else _socket.AF_INET
            elif family not in (0, af):
                raise _socket.gaierror(_socket.EAI_ADDRFAMILY, "address family for %s does not match" % host)
        address = (host, port) if af == _socket.AF_INET else (host, port, 0, 0)
        if not proto:
            proto = _socket.IPPROTO_UDP if type == _socket.SOCK_DGRAM else _socket.IPPROTO_TCP
        return [(_socket.AddressFamily(af), _socket.SocketKind(type), proto, "", address)]

    async def getnameinfo(self, sockaddr, flags=0):
        return str(sockaddr[0]), str(sockaddr[1])

    # -- connections and servers on kernel sockets -----------------------------------------------------------------

    async def sock_connect(self, sock, address):
        """Connects a :class:`KernelSocket`; the kernel resolves a host name. Failures are the usual exceptions
        (``ConnectionRefusedError``, ``TimeoutError``, ``socket.gaierror`` for a name the kernel cannot resolve)
        and ``PermissionError`` naming the ``net.connect`` rule to add when ``ukernel.toml`` does not allow it."""
        if self._own_tcp(sock):
            return await super().sock_connect(sock, address)  # the host's connect: the kernel decides it
        sock = self._kernel_socket(sock, "sock_connect")
        if self._debug and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")
        try:
            sock.connect(address)
            return
        except BlockingIOError:
            pass
        fut = self.create_future()
        fd = sock.fileno()
        self._ensure_fd_no_transport(fd)
        self._add_writer(fd, self._kernel_connect_ready, fut, sock)
        fut.add_done_callback(functools.partial(self._kernel_connect_done, fd))
        return await fut

    def _kernel_connect_ready(self, fut, sock):
        if fut.done():
            return
        try:
            sock.finish_connect()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            fut.set_exception(exc)
        else:
            fut.set_result(None)
        finally:
            fut = None

    def _kernel_connect_done(self, fd, fut):
        self._remove_writer(fd)

    @staticmethod
    def _own_tcp(sock):
        """Whether ``sock`` is a host TCP socket the worker made itself: under a root kernel its connect, bind,
        listen and accept were the kernel's (docs/confinement.md, "Sockets the worker makes"); without the sandbox
        nothing is the kernel's anyway. Elsewhere a confined worker cannot make one (``socket()`` is refused)."""
        return (isinstance(sock, _socket.socket) and not isinstance(sock, GrantedSocket)
                and sock.family in (_socket.AF_INET, _socket.AF_INET6) and sock.type == _socket.SOCK_STREAM)

    def _kernel_socket(self, sock, what):
        if self._own_tcp(sock):
            return sock
        if isinstance(sock, _socket.socket) and not isinstance(sock, GrantedSocket):
            raise TypeError("%s(): %r is a host socket the kernel did not grant; a ukernel worker uses the sockets "
                            "the kernel gives it (the loop's create_connection/create_server/open_connection, or "
                            "ukernel.KernelSocket)" % (what, sock))
        return sock

    async def create_connection(self, protocol_factory, host=None, port=None, *, ssl=None, family=0, proto=0,
                                flags=0, sock=None, local_addr=None, server_hostname=None,
                                ssl_handshake_timeout=None, ssl_shutdown_timeout=None, happy_eyeballs_delay=None,
                                interleave=None):
        """As asyncio's, on a :class:`KernelSocket`: the addresses are tried in turn (no happy eyeballs), a name is
        resolved by the kernel. The arguments are checked first, as asyncio's ``BaseEventLoop`` does (the same
        exceptions), before anything is resolved or connected."""
        if server_hostname is not None and not ssl:
            raise ValueError("server_hostname is only meaningful with ssl")
        if server_hostname is None and ssl:
            if not host:
                raise ValueError("You must set server_hostname when using ssl without a host")
            server_hostname = host
        if ssl_handshake_timeout is not None and not ssl:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if ssl_shutdown_timeout is not None and not ssl:
            raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        if sock is not None:
            _check_ssl_socket(sock)
        connected = False
        if host is not None or port is not None:
            if sock is not None:
                raise ValueError("host/port and sock can not be specified at the same time")
            infos = await self._ensure_resolved((host, port), family=family, type=_socket.SOCK_STREAM,
                                                proto=proto, flags=flags, loop=self)
            if not infos:
                raise OSError("getaddrinfo() returned empty list")
            laddr_infos = None
            if local_addr is not None:
                laddr_infos = await self._ensure_resolved(local_addr, family=family, type=_socket.SOCK_STREAM,
                                                          proto=proto, flags=flags, loop=self)
                if not laddr_infos:
                    raise OSError("getaddrinfo() returned empty list")
            sock = await self._connect_first(infos, laddr_infos, local_addr)
            connected = True
        elif sock is None:
            raise ValueError("host and port was not specified and no sock specified")
        else:
            self._kernel_socket(sock, "create_connection")
        try:
            return await super().create_connection(protocol_factory, sock=sock, ssl=ssl,
                                                   server_hostname=server_hostname,
                                                   ssl_handshake_timeout=ssl_handshake_timeout,
                                                   ssl_shutdown_timeout=ssl_shutdown_timeout)
        except BaseException:
            if connected:
                sock.close()
            raise

    async def _connect_first(self, infos, laddr_infos, local_addr):
        """A connected :class:`KernelSocket` to the first of ``infos`` that accepts, else the connect errors as
        asyncio raises them."""
        if laddr_infos is None and self._use_direct():
            sock = await self._connect_direct(infos)
            if sock is not None:
                return sock
        exceptions = []
        for af, _type, _proto, _name, address in infos:
            candidate = None
            try:
                candidate = KernelSocket(af, client=self._kclient)
                candidate.setblocking(False)
                if laddr_infos is not None:
                    for laf, _t, _p, _n, laddr in laddr_infos:
                        if laf == af:
                            candidate.bind(laddr)
                            break
                    else:
                        raise OSError(_errno.EADDRNOTAVAIL, "no local address of family %s in %r"
                                      % (_socket.AddressFamily(af).name, local_addr))
                await self.sock_connect(candidate, address)
                return candidate
            except PermissionError:
                if candidate is not None:
                    candidate.close()
                raise  # the manifest's answer is the same for every address: say it as it is
            except OSError as exc:
                exceptions.append(exc)
                if candidate is not None:
                    candidate.close()
            except BaseException:
                if candidate is not None:
                    candidate.close()
                raise
        if len(exceptions) == 1:
            raise exceptions[0]
        model = str(exceptions[0])
        if all(str(exc) == model for exc in exceptions):
            raise exceptions[0]
        raise OSError("Multiple exceptions: {}".format(", ".join(str(exc) for exc in exceptions)))

    def _use_direct(self):
        return self.direct and self._direct_ok is not False and (self._kclient.kernel_abi_version or 0) >= _DIRECT_ABI

    async def _connect_direct(self, infos):
        """A granted ``socket.socket`` connected to the first of ``infos`` that accepts (the kernel checks
        ``net.connect``, connects and grants the descriptor; the call waits for the connect, so it runs in the
        default executor), ``None`` when the kernel makes no direct sockets; else the errors as asyncio raises
        them."""
        ensure_caps(self._kclient, _abi.CAP_NET, "a TCP connection")
        exceptions = []
        for af, _type, _proto, _name, address in infos:
            try:
                return await self.run_in_executor(None, self._kclient.connect_direct, address[0], address[1], af)
            except UnsupportedError:
                self._direct_ok = False
                return None
            except PermissionError:
                raise  # the manifest's answer is the same for every address: say it as it is
            except OSError as exc:
                exceptions.append(exc)
        if len(exceptions) == 1 or all(str(e) == str(exceptions[0]) for e in exceptions):
            raise exceptions[0]
        raise OSError("Multiple exceptions: {}".format(", ".join(str(exc) for exc in exceptions)))

    def _listener(self, af):
        """A kernel listening socket for ``create_server``: direct when the kernel grants the connections it
        accepts (each accepted connection is then a real socket), else kernel-buffered."""
        if self._use_direct():
            try:
                return KernelSocket(af, client=self._kclient, direct=True)
            except UnsupportedError:
                self._direct_ok = False
        return KernelSocket(af, client=self._kclient)

    async def create_server(self, protocol_factory, host=None, port=None, *, family=_socket.AF_UNSPEC,
                            flags=_socket.AI_PASSIVE, sock=None, backlog=100, ssl=None, reuse_address=None,
                            reuse_port=None, ssl_handshake_timeout=None, ssl_shutdown_timeout=None,
                            start_serving=True):
        """As asyncio's, on :class:`KernelSocket`s bound by the kernel (``net.bind`` must allow the address;
        ``SO_REUSEADDR`` is the kernel's default). ``host=None`` or ``""`` binds the IPv4 wildcard only. The
        arguments are checked first, as asyncio's ``BaseEventLoop`` does."""
        if isinstance(ssl, bool):
            raise TypeError("ssl argument must be an SSLContext or None")
        if ssl_handshake_timeout is not None and ssl is None:
            raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
        if ssl_shutdown_timeout is not None and ssl is None:
            raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")
        if sock is not None:
            _check_ssl_socket(sock)
        tls = {"ssl_handshake_timeout": ssl_handshake_timeout, "ssl_shutdown_timeout": ssl_shutdown_timeout}
        if host is None and port is None:
            if sock is None:
                raise ValueError("Neither host/port nor sock were specified")
            self._kernel_socket(sock, "create_server")
            return await super().create_server(protocol_factory, sock=sock, backlog=backlog, ssl=ssl,
                                               start_serving=start_serving, **tls)
        if sock is not None:
            raise ValueError("host/port and sock can not be specified at the same time")
        if host == "" or host is None:
            hosts = [None]
        elif isinstance(host, str) or not hasattr(host, "__iter__"):
            hosts = [host]
        else:
            hosts = list(host)
        infos = []
        for h in hosts:
            found = await self.getaddrinfo(h, port, family=family, type=_socket.SOCK_STREAM, flags=flags)
            if not found:
                raise OSError(f"getaddrinfo({h!r}) returned empty list")
            for info in found:
                if info not in infos:
                    infos.append(info)
        sockets = []
        completed = False
        try:
            for af, _type, _proto, _name, address in infos:
                s = self._listener(af)
                sockets.append(s)
                try:
                    s.bind(address)
                except PermissionError:
                    raise
                except OSError as err:
                    raise OSError(err.errno, "error while attempting to bind on address %r: %s"
                                  % (address, (err.strerror or str(err)).lower())) from None
            completed = True
        finally:
            if not completed:
                for s in sockets:
                    s.close()
        if len(sockets) == 1:
            return await super().create_server(protocol_factory, sock=sockets[0], backlog=backlog, ssl=ssl,
                                               start_serving=start_serving, **tls)
        for s in sockets:
            s.setblocking(False)
        server = _base_events.Server(self, sockets, protocol_factory, ssl, backlog, ssl_handshake_timeout,
                                     ssl_shutdown_timeout)
        if start_serving:
            server._start_serving()
            await _tasks.sleep(0)
        return server

    async def _sock_sendfile_native(self, sock, file, offset, count):
        raise _exceptions.SendfileNotAvailableError("os.sendfile() needs host file descriptors; a kernel socket "
                                                    "is sent to with send()")

    # -- what a worker cannot have ----------------------------------------------------------------------------------

    async def _make_subprocess_transport(self, protocol, args, shell, stdin, stdout, stderr, bufsize, extra=None,
                                         **kwargs):
        """asyncio's Unix subprocess transport, its exit watched through a ``pidfd`` in the loop's ``epoll`` (the
        child is reaped when it becomes readable): no child watcher, no thread, no ``SIGCHLD`` handler."""
        from asyncio import unix_events

        waiter = self.create_future()
        transp = unix_events._UnixSubprocessTransport(self, protocol, args, shell, stdin, stdout, stderr, bufsize,
                                                      waiter=waiter, extra=extra, **kwargs)
        self._watch_child(transp)
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            transp.close()
            await transp._wait()
            raise
        return transp

    def _watch_child(self, transp):
        pid = transp.get_pid()
        try:
            pidfd = _os.pidfd_open(pid)
        except ProcessLookupError:  # already reaped (by Popen itself): its status is in Popen
            self.call_soon(self._child_gone, transp)
            return
        self._add_reader(pidfd, self._child_exited, pidfd, pid, transp)

    def _child_exited(self, pidfd, pid, transp):
        self._remove_reader(pidfd)
        _os.close(pidfd)
        # The child has exited (the pidfd is readable): Popen reaps it now, or already did (transport.close() polls)
        self._child_gone(transp)

    @staticmethod
    def _child_gone(transp):
        code = transp._proc.wait()
        if transp.get_returncode() is None:
            transp._process_exited(code)

    async def create_unix_connection(self, *args, **kwargs):
        raise NotImplementedError(_NO_UNIX)

    async def create_unix_server(self, *args, **kwargs):
        raise NotImplementedError(_NO_UNIX)

    async def create_datagram_endpoint(self, protocol_factory, local_addr=None, remote_addr=None, *, family=0,
                                       proto=0, flags=0, reuse_port=None, allow_broadcast=None, sock=None):
        """As asyncio's, on a kernel UDP socket (ABI 1.2): ``local_addr`` is bound by the kernel (a ``udp:`` rule
        of ``net.bind`` must allow it), ``remote_addr`` connected (a ``udp:`` rule of ``net.connect``), and every
        ``transport.sendto(data, addr)`` is checked by the kernel. Addresses are IP literals or ``localhost``.
        ``reuse_port`` and ``allow_broadcast`` are refused (the kernel sets no such option). The arguments are
        checked first, with the exceptions asyncio raises."""
        if sock is not None:
            if getattr(sock, "type", None) != _socket.SOCK_DGRAM:
                raise ValueError(f"A UDP Socket was expected, got {sock!r}")
            given = dict(local_addr=local_addr, remote_addr=remote_addr, family=family, proto=proto, flags=flags,
                         reuse_port=reuse_port, allow_broadcast=allow_broadcast)
            problems = ", ".join(f"{k}={v}" for k, v in given.items() if v)
            if problems:
                raise ValueError(f"socket modifier keyword arguments can not be used when sock is specified. "
                                 f"({problems})")
            self._kernel_socket(sock, "create_datagram_endpoint")
            sock.setblocking(False)
            return await self._datagram_transport(protocol_factory, sock, None)
        if family == getattr(_socket, "AF_UNIX", None):
            raise NotImplementedError(_NO_UNIX)
        if reuse_port:
            raise ValueError("reuse_port: a ukernel worker's UDP socket cannot share its port (SO_REUSEPORT)")
        if allow_broadcast:
            raise ValueError("allow_broadcast: a ukernel worker sends datagrams to the addresses its udp: rules "
                             "allow, never to a broadcast address")
        if (self._kclient.kernel_abi_version or 0) < _UDP_ABI:
            raise NotImplementedError(_NO_UDP)
        pairs = {}  # (family, proto) -> [local, remote], in resolution order
        if not (local_addr or remote_addr):
            if family == 0:
                raise ValueError("unexpected address family")
            pairs[(family, proto)] = [None, None]
        else:
            for idx, addr in ((0, local_addr), (1, remote_addr)):
                if addr is None:
                    continue
                if not (isinstance(addr, tuple) and len(addr) == 2):
                    raise TypeError("2-tuple is expected")
                infos = await self._ensure_resolved(addr, family=family, type=_socket.SOCK_DGRAM, proto=proto,
                                                    flags=flags, loop=self)
                if not infos:
                    raise OSError("getaddrinfo() returned empty list")
                for fam, _type, pro, _name, address in infos:
                    pairs.setdefault((fam, pro), [None, None])[idx] = address
            pairs = {k: v for k, v in pairs.items()
                     if not (local_addr and v[0] is None or remote_addr and v[1] is None)}
            if not pairs:
                raise ValueError("can not get address information")
        exceptions = []
        for (fam, _pro), (local, remote) in pairs.items():
            candidate = None
            try:
                candidate = KernelSocket(fam, _socket.SOCK_DGRAM, client=self._kclient)
                candidate.setblocking(False)
                if local is not None:
                    candidate.bind(local)
                if remote is not None:
                    candidate.connect(remote)
            except PermissionError:
                if candidate is not None:
                    candidate.close()
                raise  # the manifest's answer: say it as it is
            except OSError as exc:
                if candidate is not None:
                    candidate.close()
                exceptions.append(exc)
                continue
            except BaseException:
                if candidate is not None:
                    candidate.close()
                raise
            return await self._datagram_transport(protocol_factory, candidate, remote)
        raise exceptions[0]

    async def _datagram_transport(self, protocol_factory, sock, remote):
        protocol = protocol_factory()
        waiter = self.create_future()
        transport = self._make_datagram_transport(sock, protocol, remote, waiter)
        try:
            await waiter
        except BaseException:
            transport.close()
            raise
        return transport, protocol

    async def connect_accepted_socket(self, protocol_factory, sock, **kwargs):
        self._kernel_socket(sock, "connect_accepted_socket")
        return await super().connect_accepted_socket(protocol_factory, sock, **kwargs)


class KernelEventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """asyncio's default policy, with :class:`KernelEventLoop` as the event loop."""

    _loop_factory = KernelEventLoop

    def new_event_loop(self):
        return KernelEventLoop()


class _StandsForSelectorEventLoop(type):
    """``isinstance(loop, asyncio.SelectorEventLoop)`` keeps its meaning once the name is taken over: true of any
    selector loop (the kernel's loops made by the policy or ``ukernel.run`` included), as before."""

    def __instancecheck__(cls, obj):
        if cls is WorkerSelectorEventLoop:
            return isinstance(obj, _HOST_LOOP)
        return super().__instancecheck__(obj)

    def __subclasscheck__(cls, sub):
        if cls is WorkerSelectorEventLoop:
            return issubclass(sub, _HOST_LOOP)
        return super().__subclasscheck__(sub)


class WorkerSelectorEventLoop(KernelEventLoop, metaclass=_StandsForSelectorEventLoop):
    """What ``asyncio.SelectorEventLoop`` is in a worker: the kernel's loop, with asyncio's signature. A loop on the
    host's selectors would find no network there (its ``start_server`` would listen on nothing: asyncio skips the
    sockets it cannot make), so asking for one with a host selector is refused, saying what to use."""

    def __new__(cls, selector=None):
        if selector is not None:  # (refused here rather than in __init__: no half-made loop to finalise)
            raise ValueError(_HOST_SELECTOR % (selector,))
        return super().__new__(cls)

    def __init__(self, selector=None):
        super().__init__()


_HOST_SELECTOR = ("asyncio.SelectorEventLoop(%r): a ukernel worker's event loop waits on kernel handles (io_poll), "
                  "which a host selector cannot watch (the worker has no network of its own); call "
                  "asyncio.SelectorEventLoop() or asyncio.new_event_loop() without a selector (both give the "
                  "kernel's loop, ukernel.KernelEventLoop)")
_HOST_LOOP = asyncio.SelectorEventLoop
_HOST_POLICY = asyncio.DefaultEventLoopPolicy


def install():
    """Makes :class:`KernelEventLoop` asyncio's default event loop in this process (``asyncio.run``,
    ``asyncio.new_event_loop``). Idempotent. In a worker (the loader asked for it) asyncio's own names also give
    the kernel's loop: ``asyncio.SelectorEventLoop`` is :class:`WorkerSelectorEventLoop` and
    ``asyncio.DefaultEventLoopPolicy`` is :class:`KernelEventLoopPolicy`, so that an app that resets the policy
    (``asyncio.set_event_loop_policy(None)``) or makes its loop by name still runs on the kernel."""
    if not isinstance(_events._event_loop_policy, KernelEventLoopPolicy):
        asyncio.set_event_loop_policy(KernelEventLoopPolicy())
    from . import _policy

    if _policy.WANTED:
        _take_over_asyncio_names()


def _take_over_asyncio_names():
    from asyncio import unix_events

    for module in (asyncio, _events, unix_events):
        for name, host, kernel in (("SelectorEventLoop", _HOST_LOOP, WorkerSelectorEventLoop),
                                   ("EventLoop", _HOST_LOOP, WorkerSelectorEventLoop),
                                   ("DefaultEventLoopPolicy", _HOST_POLICY, KernelEventLoopPolicy)):
            if getattr(module, name, None) is host:
                setattr(module, name, kernel)


def run(main, *, debug=None):
    """``asyncio.run(main)`` on a new :class:`KernelEventLoop`."""
    with asyncio.Runner(debug=debug, loop_factory=KernelEventLoop) as runner:
        return runner.run(main)


def _install_if_wanted():
    from . import _policy

    if _policy.WANTED:
        install()


_install_if_wanted()
