"""The synchronous kernel client: one Unix-socket connection, one call at a time, or many in one batch.

A call encodes a request frame, writes it, and reads replies into a receive buffer until the reply with the
request's ``seq`` arrives. A batch writes many frames in one ``send`` and then reads all their replies,
matched by ``seq``.

The client is thread-safe and routes replies by ``seq``: writes are serialised (whole frames), and one thread
at a time reads the socket; a reply for another thread's call is handed to that thread, which waits on its own
lock meanwhile. So a thread can make calls while another waits for a parked ``io_poll`` (the event loop), and
``submit``/``collect`` keep several calls in flight. A call made from a signal handler or finalizer while the
same thread is inside a call raises ``RuntimeError`` instead of corrupting the stream; ``post`` (a call whose
reply is dropped, the event loop's wake-up) is allowed there.

Granted descriptors (ABI 1.1): the connection is read with ``recvmsg``; descriptors that arrive (``SCM_RIGHTS``)
wait in a FIFO, and a reply whose status carries ``REPLY_GRANTED`` takes the oldest one: it becomes the 4-tuple
``(seq, OK, values, fd)`` and whoever takes the reply owns ``fd`` (``collect`` hands it over as is; an
abandoned or unexpected one is closed). A descriptor no granted reply claims is closed.
"""

import _socket
import os as _os
from array import array as _array
from collections import deque as _deque
import select as _select
from _thread import RLock, allocate_lock, get_ident
from itertools import count as _count

from . import _abi
from ._batch import Batch
from ._calls import (
    LOG_MESSAGE_LIMIT,
    PARTS_THRESHOLD,
    SEQ_MASK,
    _specs,
    check_argc,
    kernel_log_level,
    log_chunks,
    result,
    spec,
)
from ._errors import DeniedError, KernelGoneError, ProtocolError, denied_message, udp_denied_message
from ._wire import decode_reply

__all__ = ["Client"]

_INITIAL_BUFFER = 64 * 1024
# fileno()-like keys for handles (key_of): above any host file descriptor (Linux caps fs.nr_open below 2**30),
# within a C int.
KEY_BASE = 1 << 30
KEY_LAST = (1 << 31) - 1
_MAX_BUFFER = _abi.MAX_FRAME_BYTES + 4
# The largest BYTES payload of a request that carries one handle and the bytes (net_send, io_write), and of a
# reply that carries just the bytes (net_recv, io_read) (docs/kernel-abi.md §2.2).
MAX_SEND_BYTES = _abi.MAX_FRAME_BYTES - 8 - 9 - 5
MAX_RECV_BYTES = _abi.MAX_FRAME_BYTES - 8 - 5
# net_socket also takes the host's socket.AF_INET / AF_INET6 numbers.
_FAMILIES = {_socket.AF_INET: _abi.NET_AF_INET, _socket.AF_INET6: _abi.NET_AF_INET6}
_GRANTED = _abi.REPLY_GRANTED
# Room for the descriptors one recvmsg can bring: the kernel sends one per sendmsg, and Linux stops a read at the
# first message carrying descriptors; the slack only lets a misbehaving peer be detected (MSG_CTRUNC) late.
_ANCBUF = _socket.CMSG_SPACE(16 * 4)
_RECV_FLAGS = getattr(_socket, "MSG_CMSG_CLOEXEC", 0)
_REENTRANT = ("a kernel call was made from a signal handler or finalizer while this thread was inside "
              "another kernel call; defer it (e.g. with loop.call_soon) instead")


def _parse_token(token):
    if isinstance(token, str):
        try:
            token = bytes.fromhex(token)
        except ValueError:
            raise ValueError("%s must be %d hex characters, got %r"
                             % (_abi.ENV_TOKEN, 2 * _abi.TOKEN_BYTES, token)) from None
    if not isinstance(token, (bytes, bytearray)) or len(token) != _abi.TOKEN_BYTES:
        raise ValueError("the kernel token must be %d bytes (%d hex characters in %s)"
                         % (_abi.TOKEN_BYTES, 2 * _abi.TOKEN_BYTES, _abi.ENV_TOKEN))
    return bytes(token)


class Client:
    """A connection to the kernel.

    ``Client.connect()`` connects to ``UKERNEL_ENDPOINT`` and presents ``UKERNEL_TOKEN`` (then removes both
    from the environment, as the ABI asks). ``call(name, *args)`` makes any call of ``ukernel._abi.CALLS``;
    the typed methods cover every call, with handles as ``int`` and hosts as ``str``.
    """

    def __init__(self, sock):
        """Wraps a connected stream socket. Call :meth:`hello` before anything else."""
        self._sock = sock
        # Writing: one thread at a time writes whole frames. Reentrant so that a signal handler of the writing
        # thread can post() a frame: it is deferred while a frame is half written (_writing), and flushed by
        # the writer right after.
        self._wlock = RLock()
        self._writing = False
        self._deferred = []
        # Reading: one thread at a time (the reader) reads the socket and routes every reply by seq; a thread
        # whose reply is not in yet waits on its own lock, released by the reader when the reply arrives or
        # when the reader role is free (docs/python-adapter.md, "The client").
        self._mutex = allocate_lock()
        self._reader = None
        self._replies = {}  # seq -> reply, routed by the reader to a thread that has not taken it yet
        self._waiters = {}  # seq -> the lock its thread waits on
        self._outstanding = set()  # seqs sent whose replies someone will take
        self._abandoned = set()  # seqs sent whose replies are dropped (interrupted calls, posts)
        self._inside = set()  # threads inside a call (a second call from the same thread is reentrant)
        self._notify = {}  # seq -> (thread, callable) of a watched call: told when another thread routes its reply
        self._counter = _count(1)
        self._buf = bytearray(_INITIAL_BUFFER)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self._gone = None
        self._fds = _deque()  # descriptors received and not yet claimed by a granted reply
        self._keys = {}  # handle -> fileno()-like key (see key_of)
        self._key_handles = {}  # key -> handle
        self._key_objects = {}  # key -> the object (e.g. a KernelSocket) that asked for it
        self._next_key = KEY_BASE
        self.channels = {}  # channel handle -> its buffers (ukernel._objects.Channel: batched sends and receives)
        self.task_id = None
        self.kernel_abi_version = None
        self.exit_code = None

    # -- connection ----------------------------------------------------------------------------------------------

    @classmethod
    def connect(cls, endpoint=None, token=None):
        """Connects and says hello. ``endpoint`` and ``token`` default to ``UKERNEL_ENDPOINT`` and
        ``UKERNEL_TOKEN``; variables read from the environment are removed from it once connected."""
        env = _os.environ
        scrub = []
        if endpoint is None:
            endpoint = env.get(_abi.ENV_ENDPOINT)
            if not endpoint:
                raise KernelGoneError("%s is not set: this process was not started by a ukernel kernel"
                                      % _abi.ENV_ENDPOINT)
            scrub.append(_abi.ENV_ENDPOINT)
        if token is None:
            token = env.get(_abi.ENV_TOKEN)
            if not token:
                raise KernelGoneError("%s is not set: this process was not started by a ukernel kernel"
                                      % _abi.ENV_TOKEN)
            scrub.append(_abi.ENV_TOKEN)
        token = _parse_token(token)
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.connect(_os.fspath(endpoint))
        except OSError as e:
            sock.close()
            raise KernelGoneError("cannot connect to the kernel at %s: %s" % (endpoint, e.strerror or e)) from e
        client = cls(sock)
        try:
            client.hello(token)
        except BaseException:
            client.close()
            raise
        for name in scrub:
            env.pop(name, None)
        return client

    @classmethod
    def from_socket(cls, sock, token):
        """Says hello over an already connected socket."""
        client = cls(sock)
        client.hello(_parse_token(token))
        return client

    def hello(self, token):
        """Binds the connection to the task the token names; returns ``(task_id, kernel_abi_version)``."""
        token = _parse_token(token)
        try:
            task_id, version = self._invoke(_HELLO, (token, _abi.VERSION))
        except KernelGoneError as e:
            raise KernelGoneError("the kernel closed the connection during hello (%s)" % e.strerror) from e
        if version >> 16 != _abi.VERSION_MAJOR:
            self.close()
            raise ProtocolError("the kernel speaks ABI %d.%d, this adapter %d.%d"
                                % (version >> 16, version & 0xFFFF, _abi.VERSION_MAJOR, _abi.VERSION_MINOR))
        self.task_id = task_id
        self.kernel_abi_version = version
        return task_id, version

    def fileno(self):
        return -1 if self._sock is None else self._sock.fileno()

    @property
    def closed(self):
        return self._sock is None

    def close(self):
        """Closes the connection (the kernel then ends the task)."""
        self._drop("the client was closed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "task %s" % self.task_id if self._sock is not None else "closed: %s" % self._gone
        return "<ukernel.Client %s>" % state

    # -- keys: fileno()-like numbers for handles -------------------------------------------------------------------

    def key_of(self, handle, obj=None):
        """A ``fileno()``-like key for ``handle``, for ``selectors`` and asyncio's ``add_reader`` (handles are
        random 31-bit numbers, too large for a file descriptor). Keys start at ``KEY_BASE`` (2**30), above any host
        file descriptor, so a key never names a host file; the same handle keeps its key until
        :meth:`forget_key`. ``obj``, when given, is remembered with the key (:meth:`object_of`)."""
        key = self._keys.get(handle)
        if key is None:
            with self._mutex:
                key = self._keys.get(handle)
                if key is None:
                    key = self._next_key
                    while key in self._key_handles:
                        key = key + 1 if key < KEY_LAST else KEY_BASE
                    self._next_key = key + 1 if key < KEY_LAST else KEY_BASE
                    self._keys[handle] = key
                    self._key_handles[key] = handle
        if obj is not None:
            self._key_objects[key] = obj
        return key

    def handle_of(self, key):
        """The handle behind a key from :meth:`key_of`, or ``None``."""
        return self._key_handles.get(key)

    def object_of(self, key):
        """The object remembered with a key by :meth:`key_of`, or ``None``."""
        return self._key_objects.get(key)

    def forget_key(self, handle):
        """Releases the key of a handle that was closed or moved to another task."""
        with self._mutex:
            key = self._keys.pop(handle, None)
            if key is not None:
                self._key_handles.pop(key, None)
                self._key_objects.pop(key, None)

    # -- calls ---------------------------------------------------------------------------------------------------

    def call(self, name, *args):
        """Makes call ``name`` with ``args`` (checked against its signature: ``TypeError`` before anything is
        sent). Returns ``None``, the single result, or a tuple of results; raises the status's exception."""
        s = _specs.get(name) or spec(name)
        check_argc(s, args)
        return self._invoke(s, args)

    def batch(self):
        """A batch: ``with client.batch() as b: r = b.call(...)`` sends every frame in one write when the
        block ends, then reads all replies; ``r.result()`` gives each call's outcome."""
        return Batch(self)

    def _next_seq(self):
        return next(self._counter) & SEQ_MASK

    def _round_trip(self, s, args):
        """Sends one request and waits for its reply (a thread may not call again while it waits)."""
        me = get_ident()
        inside = self._inside
        if me in inside:
            raise RuntimeError(_REENTRANT)
        inside.add(me)
        try:
            seq = next(self._counter) & SEQ_MASK
            frame = s.encode(seq, args)
            self._outstanding.add(seq)
            self._write(frame, (seq,))
            return self._await(seq)
        finally:
            inside.discard(me)

    def _invoke(self, s, args):
        reply = self._round_trip(s, args)
        if len(reply) > 3:
            _os.close(reply[3])  # granted to a caller that did not ask for the descriptor: use the direct methods
        return result(s, reply, args)

    def _invoke_granted(self, s, args):
        """As ``_invoke``, for a call that may be granted: ``(results, fd or None)``; the caller owns ``fd``."""
        reply = self._round_trip(s, args)
        fd = reply[3] if len(reply) > 3 else None
        try:
            return result(s, reply, args), fd
        except BaseException:
            if fd is not None:
                _os.close(fd)
            raise

    def _run_batch(self, frames, results):
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        me = get_ident()
        if me in self._inside:
            raise RuntimeError(_REENTRANT)
        self._inside.add(me)
        try:
            seqs = [r._seq for r in results]
            self._outstanding.update(seqs)
            self._write(data, seqs)
            i = 0
            try:
                for i, r in enumerate(results):
                    r._reply = self._await(r._seq)
            except BaseException as e:
                err = e if isinstance(e, Exception) else RuntimeError("the batch was interrupted")
                for r in results[i:]:
                    if r._reply is None:
                        self._abandon(r._seq)
                        r._error = err
                raise
        finally:
            self._inside.discard(me)

    # -- pipelining (used by the event loop: several calls in flight, replies taken later) ----------------------

    def submit(self, calls):
        """Sends ``[(spec, args), ...]`` in one write without waiting; returns their seqs. Take each reply with
        :meth:`collect` (in any order, from any thread), or give it up with :meth:`abandon`."""
        frames = []
        seqs = []
        counter = self._counter
        big = False
        for s, args in calls:
            seq = next(counter) & SEQ_MASK
            parts = s.encode_parts
            if parts is not None and len(args[1]) >= PARTS_THRESHOLD and type(args[1]) is bytes:
                frames.extend(parts(seq, args[0], args[1]))  # header and payload as two buffers: no copy
                big = True
            else:
                frames.append(s.encode(seq, args))
            seqs.append(seq)
        self._outstanding.update(seqs)
        if big:
            self._write(frames, seqs)
        else:
            self._write(frames[0] if len(frames) == 1 else b"".join(frames), seqs)
        return seqs

    def collect(self, seq):
        """The raw reply ``(seq, status, values)`` of a submitted call, waiting for it if needed (turn it into
        results with ``ukernel._calls.result``)."""
        me = get_ident()
        if me in self._inside:
            raise RuntimeError(_REENTRANT)
        self._inside.add(me)
        try:
            return self._await(seq)
        finally:
            self._inside.discard(me)

    def collect_all(self, seqs):
        """The raw replies of several submitted calls, in the order of ``seqs``: one pass as the reader (the
        event loop's batches take their replies this way)."""
        me = get_ident()
        inside = self._inside
        if me in inside:
            raise RuntimeError(_REENTRANT)
        inside.add(me)
        try:
            got = {}
            want = set(seqs)
            mutex = self._mutex
            mutex.acquire()
            if self._replies:
                for seq in seqs:
                    reply = self._replies.pop(seq, None)
                    if reply is not None:
                        got[seq] = reply
                        want.discard(seq)
                        self._outstanding.discard(seq)
            if not want or self._reader is not None:
                mutex.release()
                for seq in want:
                    got[seq] = self._await(seq)
                return [got[seq] for seq in seqs]
            self._reader = me
            mutex.release()
            try:
                outstanding = self._outstanding
                while want:
                    reply = self._next_reply()
                    rseq = reply[0]
                    if rseq in want:
                        want.discard(rseq)
                        outstanding.discard(rseq)
                        got[rseq] = reply
                    else:
                        self._route(reply)
            except BaseException:
                for seq in want:
                    self._abandon(seq)
                raise
            finally:
                with mutex:
                    self._reader = None
                    if self._waiters:
                        self._waiters.popitem()[1].release()
                if self._notify and self._start != self._end:
                    self._tell_watchers()
            return [got[seq] for seq in seqs]
        finally:
            inside.discard(me)

    def abandon(self, seq):
        """Drops the reply of a submitted call (now, or when it comes)."""
        self._abandon(seq)

    # -- watching (the event loop's selector: a call sent now, its reply looked for without waiting) -------------

    def watch(self, calls, notify=None, drop=0):
        """Sends ``[(spec, args), ...]`` in one write and never waits. The replies of the first ``drop`` calls are
        dropped when they come; the seqs of the others are returned, for :meth:`try_collect` (or :meth:`collect`,
        :meth:`abandon`). ``notify()``, when given, is called by another thread that reads one of these replies
        off the connection (the watcher's ``epoll`` then saw nothing to read); it must not block."""
        counter = self._counter
        frames = []
        keep = []
        dropped = []
        for i, (s, args) in enumerate(calls):
            seq = next(counter) & SEQ_MASK
            frames.append(s.encode(seq, args))
            (dropped if i < drop else keep).append(seq)
        with self._mutex:
            self._abandoned.update(dropped)
            self._outstanding.update(keep)
            if notify is not None:
                entry = (get_ident(), notify)
                for seq in keep:
                    self._notify[seq] = entry
        self._write(frames[0] if len(frames) == 1 else b"".join(frames), keep)
        return keep

    def try_collect(self, seq, read=True):
        """The raw reply of a call sent with :meth:`watch` if it is in, else ``None``; never waits. Whole replies in
        the receive buffer are decoded first; with ``read``, what the connection holds is read (one non-blocking
        read). Neither happens while another thread is reading the connection (it routes the reply)."""
        mutex = self._mutex
        with mutex:
            reply = self._take(seq)
            if reply is not None or self._reader is not None or not read and self._start == self._end:
                return reply
            sock = self._sock
            if sock is None:
                raise KernelGoneError(self._gone)
            self._reader = get_ident()
        try:
            self._route_buffered()  # whole replies another call read but did not decode
            if read and seq not in self._replies:
                self._route_available(sock)
        finally:
            with mutex:
                self._reader = None
                if self._waiters:  # hand the reader role over, as _await does
                    self._waiters.popitem()[1].release()
        with mutex:
            return self._take(seq)

    def _route_buffered(self):
        """(the reader) Routes every whole reply already in the receive buffer."""
        while self._start != self._end:
            try:
                reply, used = decode_reply(self._view, self._start, self._end)
            except ProtocolError as e:
                self._drop("the kernel sent a malformed frame")
                raise ProtocolError("malformed reply from the kernel: %s" % e.strerror, e.seq) from None
            if reply is None:
                return
            self._start += used
            if reply[1] & _GRANTED:
                reply = self._claim(reply)
            if self._start == self._end:
                self._start = self._end = 0
                if self._fds:
                    self._close_fds()
            self._route(reply)

    def _tell_watchers(self):
        """After a read that may have left a watched reply in the receive buffer undecoded: the watchers of
        other threads are told (their ``epoll`` will not see those bytes)."""
        me = get_ident()
        with self._mutex:
            watchers = set(self._notify.values())
        for who, notify in watchers:
            if who != me:
                notify()

    def _take(self, seq):
        """(holding _mutex) A routed reply of a watched call, or ``None``."""
        reply = self._replies.pop(seq, None)
        if reply is not None:
            self._outstanding.discard(seq)
            self._notify.pop(seq, None)
        return reply

    def post(self, s, args):
        """Sends one call and never waits for its reply (dropped when it comes), e.g. the event loop's wake-up
        message. Safe from another thread and from a signal handler, even one that interrupted this client in
        the middle of a call: the frame is then written right after the frame being written."""
        seq = next(self._counter) & SEQ_MASK
        frame = s.encode(seq, args)
        self._abandoned.add(seq)
        with self._wlock:
            if self._writing:
                self._deferred.append(frame)
                return
            sock = self._sock
            if sock is None:
                self._abandoned.discard(seq)
                return
            self._writing = True
            try:
                sock.sendall(frame)
            except OSError as e:
                self._writing = False
                self._drop("cannot write to the kernel: %s" % (e.strerror or e))
                return
            except BaseException:
                self._writing = False
                self._drop("a write to the kernel was interrupted in the middle of a frame")
                raise
            self._writing = False
            if self._deferred:
                self._flush_deferred()

    # -- transport -----------------------------------------------------------------------------------------------

    def _write(self, data, seqs):
        with self._wlock:
            sock = self._sock
            if sock is None:
                self._outstanding.difference_update(seqs)
                raise KernelGoneError(self._gone)
            sent = 0
            self._writing = True
            try:
                if type(data) is list:
                    progress = [0]
                    try:
                        _sendmsg_all(sock, data, progress, self._wait_writable)
                    finally:
                        sent = progress[0]
                        data = _Sized(sum(map(len, data)))
                else:
                    total = len(data)
                    view = memoryview(data)
                    while sent < total:
                        try:
                            sent += sock.send(view[sent:], _socket.MSG_DONTWAIT)
                        except BlockingIOError:
                            self._wait_writable(sock)
            except OSError as e:
                self._writing = False
                self._outstanding.difference_update(seqs)
                self._lost("cannot write to the kernel: %s" % (e.strerror or e), e)
            except BaseException:
                self._writing = False
                # Interrupted (a signal handler raised): the frames may or may not have left, so their replies are
                # dropped if they come. A frame cut in the middle would desynchronise the stream: give up on it.
                if 0 < sent < len(data):
                    self._outstanding.difference_update(seqs)
                    self._drop("a write to the kernel was interrupted in the middle of a frame")
                else:
                    for seq in seqs:
                        self._abandon(seq)
                raise
            self._writing = False
            if self._deferred:
                self._flush_deferred()

    def _wait_writable(self, sock):
        """The socket is full: waits until it takes more, reading the kernel's replies meanwhile unless another
        thread is the reader. The kernel stops reading a connection's requests while too many of its replies are
        unread (docs/kernel-abi.md §2.4): a writer that only wrote could wait for it forever."""
        with self._mutex:
            reading = self._reader is None
            if reading:
                self._reader = get_ident()
        try:
            poller = _select.poll()
            poller.register(sock.fileno(), _select.POLLOUT | (_select.POLLIN if reading else 0))
            events = 0
            for _, ev in poller.poll():
                events |= ev
            if reading and events & _select.POLLIN and not events & _select.POLLOUT:
                self._route_available(sock)
        finally:
            if reading:
                with self._mutex:
                    self._reader = None
                    if self._waiters:  # hand the reader role over, as _await does
                        self._waiters.popitem()[1].release()

    def _route_available(self, sock):
        """Reads what the kernel sent (the socket is readable: no wait) and routes every whole reply in it."""
        if self._end == len(self._buf):
            self._make_room()
        try:
            n = self._recv(sock, _socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError as e:
            self._lost("cannot read from the kernel: %s" % (e.strerror or e), e)
        if not n:
            self._lost("the kernel closed the connection")
        self._end += n
        self._route_buffered()

    def _flush_deferred(self):
        """Writes the frames posted by a signal handler while this thread was writing (holding _wlock)."""
        while self._deferred and self._sock is not None:
            frames, self._deferred = self._deferred, []
            self._writing = True
            try:
                self._sock.sendall(b"".join(frames))
            except OSError as e:
                self._writing = False
                self._drop("cannot write to the kernel: %s" % (e.strerror or e))
                return
            except BaseException:
                self._writing = False
                self._drop("a write to the kernel was interrupted in the middle of a frame")
                raise
            self._writing = False

    def _abandon(self, seq):
        with self._mutex:
            self._outstanding.discard(seq)
            self._notify.pop(seq, None)
            if self._replies.pop(seq, None) is None and self._sock is not None:
                self._abandoned.add(seq)

    def _await(self, seq):
        """The reply with ``seq``: read by this thread if no other is reading, else routed to it by the reader."""
        mutex = self._mutex
        while True:
            mutex.acquire()
            reply = self._replies.pop(seq, None)
            if reply is not None:
                self._outstanding.discard(seq)
                mutex.release()
                return reply
            if self._reader is None:
                self._reader = get_ident()
                mutex.release()
                try:
                    return self._read_until(seq)
                except BaseException:
                    self._abandon(seq)
                    raise
                finally:
                    with mutex:
                        self._reader = None
                        if self._waiters:  # hand the reader role over
                            self._waiters.popitem()[1].release()
                    if self._notify and self._start != self._end:
                        self._tell_watchers()
            wait = allocate_lock()
            wait.acquire()
            self._waiters[seq] = wait
            mutex.release()
            try:
                wait.acquire()
            except BaseException:
                with mutex:
                    if self._waiters.get(seq) is wait:
                        del self._waiters[seq]
                    elif self._reader is None and self._waiters and seq not in self._replies:
                        self._waiters.popitem()[1].release()  # we were handed the reader role: pass it on
                self._abandon(seq)
                raise

    def _read_until(self, seq):
        while True:
            reply = self._next_reply()
            rseq = reply[0]
            if rseq == seq:
                self._outstanding.discard(seq)
                return reply
            self._route(reply)

    def _route(self, reply):
        rseq = reply[0]
        with self._mutex:
            if rseq in self._abandoned:
                self._abandoned.discard(rseq)  # the answer to an interrupted call, or to a post
                if len(reply) > 3:
                    _os.close(reply[3])
                return
            if rseq in self._outstanding:
                self._replies[rseq] = reply
                wait = self._waiters.pop(rseq, None)
                if wait is not None:
                    wait.release()
                notify = self._notify.pop(rseq, None) if self._notify else None
            else:
                notify = False
        if notify is not False:
            if notify is not None and notify[0] != get_ident():
                notify[1]()
            return
        self._drop("the kernel sent a reply to no pending request")
        raise ProtocolError("the kernel sent a reply with seq %d, which no pending request has" % rseq, rseq)

    def _next_reply(self):
        while True:
            start = self._start
            end = self._end
            if start != end:
                try:
                    reply, used = decode_reply(self._view, start, end)
                except ProtocolError as e:
                    self._drop("the kernel sent a malformed frame")
                    raise ProtocolError("malformed reply from the kernel: %s" % e.strerror, e.seq) from None
                if reply is not None:
                    start += used
                    if reply[1] & _GRANTED:
                        reply = self._claim(reply)
                    if start == end:
                        self._start = self._end = 0
                        if self._fds:
                            self._close_fds()  # every reply received so far is decoded: these had no mark
                    else:
                        self._start = start
                    return reply
            self._fill()

    def _fill(self):
        if self._deferred:
            with self._wlock:
                self._flush_deferred()
        sock = self._sock
        if sock is None:
            raise KernelGoneError(self._gone)
        if self._end == len(self._buf):
            self._make_room()
        try:
            n = self._recv(sock, 0)
        except OSError as e:
            self._lost("cannot read from the kernel: %s" % (e.strerror or e), e)
        if not n:
            self._lost("the kernel closed the connection")
        self._end += n

    def _recv(self, sock, flags):
        """Reads into the buffer's free end with ``recvmsg``; received descriptors join the FIFO."""
        n, anc, mflags, _ = sock.recvmsg_into((self._view[self._end:],), _ANCBUF, flags | _RECV_FLAGS)
        if anc:
            for level, kind, data in anc:
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                    fds = _array("i")
                    fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
                    self._fds.extend(fds)
        if mflags & _socket.MSG_CTRUNC:
            self._close_fds()
            self._lost("the kernel sent more descriptors at once than this adapter takes")
        return n

    def _claim(self, reply):
        """A granted reply with its descriptor: ``(seq, OK, values, fd)``."""
        seq, status, values = reply
        if status != _GRANTED or not self._fds:
            self._drop("the kernel sent a granted reply without a descriptor")
            raise ProtocolError("reply %d is marked granted (status %#x) but no descriptor came with it"
                                % (seq, status), seq)
        return seq, 0, values, self._fds.popleft()

    def _close_fds(self):
        while self._fds:
            try:
                _os.close(self._fds.popleft())
            except OSError:
                pass

    def _make_room(self):
        start, end = self._start, self._end
        live = end - start
        need = live + 1
        if live >= 4:
            need = max(need, int.from_bytes(self._buf[start:start + 4], "little") + 4)
        cap = len(self._buf)
        if start > 0 and need <= cap:
            self._buf[:live] = self._buf[start:end]
        else:
            buf = bytearray(max(need, min(2 * cap, _MAX_BUFFER)))
            buf[:live] = self._view[start:end]
            self._view.release()
            self._buf = buf
            self._view = memoryview(buf)
        self._start = 0
        self._end = live

    def _lost(self, reason, cause=None):
        self._drop(reason)
        raise KernelGoneError(reason) from cause

    def _drop(self, reason):
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self._gone = reason
        self._close_fds()
        try:
            sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    # -- typed calls ---------------------------------------------------------------------------------------------

    def abi_version(self):
        """The kernel's ABI version, ``major << 16 | minor``."""
        return self._invoke(_ABI_VERSION, ())

    def cap_acquire(self, mask):
        """Adds the capabilities in ``mask`` to the active set (all or none); returns the active mask."""
        return self._invoke(_CAP_ACQUIRE, (mask,))

    def cap_drop(self, mask):
        """Drops the capabilities in ``mask`` irrevocably; returns the active mask."""
        return self._invoke(_CAP_DROP, (mask,))

    def cap_query(self):
        """``(active, ceiling)`` masks."""
        return self._invoke(_CAP_QUERY, ())

    def handle_close(self, handle):
        """Closes a handle of any kind."""
        self._invoke(_HANDLE_CLOSE, (handle,))

    def sandbox_notify(self, fd):
        """Hands the kernel this process's seccomp notification descriptor ``fd`` (by number: the kernel takes a
        copy with ``pidfd_getfd``); the loader calls it once, right after confining, then closes ``fd``."""
        self._invoke(_SANDBOX_NOTIFY, (fd,))

    def log_write(self, level, message):
        """Writes one console line (``message`` as ``str`` or ``bytes``) at ``level`` (10, 20, 30, 40)."""
        if type(message) is str:
            message = message.encode("utf-8", "backslashreplace")
        self._invoke(_LOG_WRITE, (level, message))

    def log(self, message, level=_abi.LOG_INFO):
        """Like :meth:`log_write`, but any ``logging`` level number is accepted (mapped by
        :func:`kernel_log_level`) and a message over the kernel's per-call limit is split, in one batch."""
        if not isinstance(message, (bytes, bytearray)):
            message = str(message).encode("utf-8", "backslashreplace")
        level = kernel_log_level(level)
        if len(message) <= LOG_MESSAGE_LIMIT:
            return self._invoke(_LOG_WRITE, (level, message))
        with self.batch() as b:
            results = [b.call("log_write", level, chunk) for chunk in log_chunks(bytes(message), LOG_MESSAGE_LIMIT)]
        for r in results:
            r.result()

    def time_monotonic_ns(self):
        """Nanoseconds since kernel boot (never decreasing)."""
        return self._invoke(_TIME_MONOTONIC_NS, ())

    def time_wall_ns(self):
        """Wall-clock nanoseconds since the Unix epoch."""
        return self._invoke(_TIME_WALL_NS, ())

    def task_self(self):
        """``(task_id, name)`` of the calling task."""
        task_id, name = self._invoke(_TASK_SELF, ())
        return task_id, name.decode("utf-8", "replace")

    def task_yield(self):
        """Lets other tasks' pending requests be served first."""
        self._invoke(_TASK_YIELD, ())

    def task_spawn(self, entry, caps, handles=()):
        """Starts the ``[[task]]`` named ``entry`` with at most ``caps`` (a mask within the active set), moving
        ``handles`` into it (they become its handles 1, 2, ... in this order); returns a task handle, which turns
        ``READABLE`` when the task ends."""
        return self._invoke(_TASK_SPAWN, (entry, caps, _handles(handles)))

    def task_status(self, task):
        """``(state, exit_code)`` of the task behind a task handle: ``TASK_RUNNING`` (code 0) or ``TASK_EXITED``."""
        return self._invoke(_TASK_STATUS, (task,))

    def task_exit(self, code):
        """Ends the task with ``code`` (0-255). The kernel then closes the connection: later calls raise
        ``KernelGoneError``. The process should exit with the same code."""
        self._invoke(_TASK_EXIT, (code,))
        self.exit_code = code
        self._drop("the task has exited (task_exit)")


    # -- ipc -----------------------------------------------------------------------------------------------------

    def ipc_channel_create(self):
        """Creates a channel: ``(h0, h1)``, its two endpoints."""
        return self._invoke(_IPC_CHANNEL_CREATE, ())

    def ipc_send(self, channel, data, handles=()):
        """Queues ``data`` (at most ``MAX_MSG_BYTES``) toward the peer endpoint, moving ``handles`` with it (they
        leave this task's table). ``WouldBlockError`` when the peer's queue is full, ``ClosedError`` when the
        peer is closed."""
        self._invoke(_IPC_SEND, (channel, data, _handles(handles)))

    def ipc_recv(self, channel):
        """``(data, handles)``: the next message and the handles it carried, now in this task's table.
        ``WouldBlockError`` when none is queued, ``ClosedError`` when none is and the peer is closed."""
        data, handles = self._invoke(_IPC_RECV, (channel,))
        return data, list(handles)

    def ipc_close(self, channel):
        """Closes a channel endpoint; the peer sees ``HANGUP``."""
        self._invoke(_IPC_CLOSE, (channel,))

    def ipc_send_many(self, channel, messages):
        """(ABI 1.3) Queues the longest prefix of ``messages`` (each ``bytes``, or ``(bytes, handles)`` to move
        handles with it; at most ``MAX_BATCH_MSGS``) that the peer's queue and ``limits.queued_bytes`` take, in one
        call; returns how many were queued (the rest is this caller's to send later, in order).
        ``WouldBlockError`` when not even the first fits, ``ClosedError`` when the peer is closed; a malformed
        message or a handle that cannot move refuses the whole call."""
        if all(type(m) is bytes for m in messages):
            return self._invoke(_IPC_SEND_MANY, (channel, b"".join(messages), list(map(len, messages)), (), ()))
        datas, counts, moved = [], [], []
        for m in messages:
            if isinstance(m, tuple):
                data, handles = m
                handles = _handles(handles)
            else:
                data, handles = m, ()
            datas.append(bytes(data))
            counts.append(len(handles))
            moved.extend(handles)
        return self._invoke(_IPC_SEND_MANY, (channel, b"".join(datas), list(map(len, datas)),
                                             counts if moved else (), moved))

    def ipc_recv_many(self, channel, max_msgs=_abi.MAX_BATCH_MSGS, max_bytes=_abi.MAX_BATCH_BYTES):
        """(ABI 1.3) The oldest queued messages, at most ``max_msgs`` and ``max_bytes`` of payload (the first is
        taken whatever its size), in one call: a list of ``(data, handles)``. ``WouldBlockError`` when none is
        queued, ``ClosedError`` when none is and the peer is closed."""
        data, lengths, counts, handles = self._invoke(_IPC_RECV_MANY, (channel, max_msgs, max_bytes))
        out = []
        at = 0
        if not handles:
            for n in lengths:
                end = at + n
                out.append((data[at:end], []))
                at = end
            return out
        h = 0
        for n, c in zip(lengths, counts):
            end = at + n
            out.append((data[at:end], list(handles[h:h + c])))
            at = end
            h += c
        return out

    # -- net -----------------------------------------------------------------------------------------------------

    def net_socket(self, family=_abi.NET_AF_INET, type=_abi.NET_SOCK_STREAM, direct=False):
        """Creates a TCP socket (``NET_AF_INET`` or ``NET_AF_INET6``; ``socket.AF_INET``/``AF_INET6`` work too);
        returns its handle. ``direct=True`` (ABI 1.1, ``NET_DIRECT``): once connected, or for each connection
        accepted from it, the worker is granted the host descriptor (:meth:`net_connect`, :meth:`net_accept`)."""
        if direct:
            type |= _abi.NET_DIRECT
        return self._invoke(_NET_SOCKET, (_FAMILIES.get(family, family), type))

    def net_bind(self, sock, host, port):
        """Binds to ``host:port`` (``""`` the wildcard, ``localhost``; port 0 ephemeral). ``DeniedError`` names
        the address when no ``net.bind`` rule of ``[caps.net]`` allows it."""
        args = (sock, host, port)
        try:
            self._invoke(_NET_BIND, args)
        except DeniedError as e:
            raise self._denied(_NET_BIND, args, e) from None

    def net_listen(self, sock, backlog=0):
        """Starts accepting connections on a bound socket (``backlog`` <= 0: the kernel's default)."""
        self._invoke(_NET_LISTEN, (sock, backlog))

    def net_accept(self, sock):
        """``(conn, peer_host, peer_port)``: the oldest pending connection. ``WouldBlockError`` when none. On a
        direct listener ``conn`` is a granted ``socket.socket`` (``conn.handle`` is its kernel handle)."""
        (conn, host, port), fd = self._invoke_granted(_NET_ACCEPT, (sock,))
        if fd is not None:
            conn = _granted_socket(self, conn, fd)
        return conn, host.decode("utf-8", "replace"), port

    def net_connect(self, sock, host, port):
        """Starts connecting to ``host:port``. Returns when connected at once; raises ``InProgressError`` (a
        ``BlockingIOError`` with errno ``EINPROGRESS``, as a non-blocking socket does) when the connect goes on:
        wait for ``WRITABLE``, then read the outcome with :meth:`net_error`. ``DeniedError`` names the address
        when no ``net.connect`` rule of ``[caps.net]`` allows it. On a direct socket (ABI 1.1) the call waits
        until the host connected and returns the granted ``socket.socket``; a failure raises its error."""
        args = (sock, host, port)
        try:
            _, fd = self._invoke_granted(_NET_CONNECT, args)
        except DeniedError as e:
            raise self._denied(_NET_CONNECT, args, e) from None
        if fd is not None:
            return _granted_socket(self, sock, fd)
        return None

    def connect_direct(self, host, port, family=_abi.NET_AF_INET):
        """A direct connection to ``host:port`` (ABI 1.1): the kernel checks ``net.connect``, connects, and grants
        the host descriptor. Returns a non-blocking ``socket.socket`` whose ``handle`` is its kernel handle; closing
        the socket closes the handle too. Raises what :meth:`net_connect` raises (the handle is closed then)."""
        h = self.net_socket(family, _abi.NET_SOCK_STREAM, direct=True)
        try:
            sock = self.net_connect(h, host, port)
        except BaseException:
            try:
                self.handle_close(h)
            except Exception:
                pass
            raise
        if sock is None:  # a kernel that ignored NET_DIRECT (never ABI >= 1.1)
            self.handle_close(h)
            raise ProtocolError("the kernel connected socket %d without granting its descriptor" % h)
        return sock

    def post_close(self, handle):
        """Closes a handle without waiting for the reply (a granted socket's close: its descriptor is gone)."""
        self.post(_HANDLE_CLOSE, (handle,))

    def net_send(self, sock, data):
        """Queues as much of ``data`` as fits; returns how many bytes (possibly fewer: send the rest when
        ``WRITABLE``). At most ``MAX_SEND_BYTES`` travel per call."""
        return self._invoke(_NET_SEND, (sock, _clamp(data)))

    def net_recv(self, sock, n):
        """Up to ``n`` bytes that have arrived; ``b""`` is end of stream. ``WouldBlockError`` when none yet."""
        return self._invoke(_NET_RECV, (sock, min(n, MAX_RECV_BYTES)))

    def net_shutdown(self, sock, how):
        """Shuts down reading (``NET_SHUT_RD``), writing (``NET_SHUT_WR``) or both (``NET_SHUT_RDWR``): the
        ABI's numbers, not ``socket.SHUT_*``."""
        self._invoke(_NET_SHUTDOWN, (sock, how))

    def net_close(self, sock):
        """Closes a socket (queued data is still sent)."""
        self._invoke(_NET_CLOSE, (sock,))

    def net_addr(self, sock, which=_abi.NET_ADDR_LOCAL):
        """``(host, port)``: the local (``NET_ADDR_LOCAL``) or peer (``NET_ADDR_PEER``) address."""
        host, port = self._invoke(_NET_ADDR, (sock, which))
        return host.decode("utf-8", "replace"), port

    def net_error(self, sock):
        """Takes the socket's pending error: a status code, ``OK`` (0) when none (like ``SO_ERROR``)."""
        return self._invoke(_NET_ERROR, (sock,))

    def net_sendto(self, sock, data, host="", port=0):
        """Sends ``data`` as one datagram from a UDP socket to ``host:port`` (an IP literal or ``localhost``; ``""``
        and 0: the connected peer), checked by the kernel against the ``udp:`` rules of ``net.connect`` for every
        datagram (ABI 1.2); returns ``len(data)``. ``DeniedError`` names the rule to add; ``WouldBlockError`` when
        the host has no room now."""
        args = (sock, bytes(data), host, port)
        try:
            return self._invoke(_NET_SENDTO, args)
        except DeniedError as e:
            raise DeniedError(udp_denied_message("net_sendto", host, port), "net_sendto") from e

    def net_recvfrom(self, sock, n):
        """``(data, host, port)``: the oldest datagram queued on a UDP socket (cut to ``n`` bytes) and its sender
        (ABI 1.2). ``WouldBlockError`` when none is queued."""
        data, host, port = self._invoke(_NET_RECVFROM, (sock, min(n, MAX_RECV_BYTES - 64)))
        return data, host.decode("utf-8", "replace"), port

    # -- io ------------------------------------------------------------------------------------------------------

    def io_open(self, preopen, path, flags=_abi.OPEN_READ):
        """Opens ``path`` (relative, ``/``-separated) inside the preopen named ``preopen`` with ``OPEN_*``
        ``flags``; returns a file handle. ``DeniedError`` says why a path was refused."""
        args = (preopen, path, flags)
        try:
            return self._invoke(_IO_OPEN, args)
        except DeniedError as e:
            raise self._denied(_IO_OPEN, args, e) from None

    def io_read(self, file, n):
        """Up to ``n`` bytes from the position (advancing it); ``b""`` is end of file."""
        return self._invoke(_IO_READ, (file, min(n, MAX_RECV_BYTES)))

    def io_write(self, file, data):
        """Writes ``data`` at the position (at the end with ``OPEN_APPEND``); returns how many bytes were
        written. At most ``MAX_SEND_BYTES`` travel per call: write the rest with another call."""
        return self._invoke(_IO_WRITE, (file, _clamp(data)))

    def io_seek(self, file, offset, whence=_abi.SEEK_SET):
        """Moves the position (``SEEK_SET``, ``SEEK_CUR``, ``SEEK_END``); returns the new position."""
        return self._invoke(_IO_SEEK, (file, offset, whence))

    def io_stat(self, file):
        """``(size, mtime_ns, kind)`` of an open file, ``kind`` one of ``STAT_FILE``, ``STAT_DIRECTORY``,
        ``STAT_OTHER``."""
        return self._invoke(_IO_STAT, (file,))

    def io_close(self, file):
        """Closes a file."""
        self._invoke(_IO_CLOSE, (file,))

    # -- poll ----------------------------------------------------------------------------------------------------

    def io_poll(self, pairs, timeout_ns=None):
        """Waits until a ``(handle, interest)`` pair is ready, or ``timeout_ns`` passes (``None``: no timeout;
        0: check once). Returns the ready pairs as ``[(handle, events), ...]``, in the order asked; ``[]`` when
        the timeout passed. ``pairs`` may also be a ``{handle: interest}`` dict. ``EV_HANGUP`` and ``EV_ERROR``
        are reported even when not asked for; a bad handle is reported as ``EV_ERROR``."""
        if isinstance(pairs, dict):
            pairs = pairs.items()
        flat = []
        for handle, interest in pairs:
            flat.append(handle)
            flat.append(interest)
        ready = self._invoke(_IO_POLL, (flat, -1 if timeout_ns is None else timeout_ns))
        return list(zip(ready[0::2], ready[1::2]))

    def _denied(self, s, args, e):
        """The ``DeniedError`` of a scoped call, saying which of its two causes it was (the capability is not
        held, or the scope refused the target): asks the kernel which capabilities are active."""
        try:
            active = self._invoke(_CAP_QUERY, ())[0]
        except Exception:
            return e
        return DeniedError(denied_message(s.name, args, bool(active & s.cap)), s.name)


class _Sized:
    """Stands for a list of buffers where only its total length matters (the interrupted-write check)."""

    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


def _sendmsg_all(sock, buffers, progress, wait):
    """Writes every buffer with sendmsg (at most 512 at a time), going on after partial writes; ``wait(sock)`` is
    called whenever the socket is full. ``progress[0]`` counts the bytes written so far, so that a caller
    interrupted part way (a signal handler raised) knows whether a frame was cut."""
    views = [b if isinstance(b, bytes) else memoryview(b).cast("B") for b in buffers]
    i = 0
    offset = 0
    while i < len(views):
        chunk = views[i:i + 512]
        if offset:
            chunk[0] = memoryview(chunk[0])[offset:]
        try:
            n = sock.sendmsg(chunk, (), _socket.MSG_DONTWAIT)
        except BlockingIOError:
            wait(sock)
            continue
        progress[0] += n
        while n and i < len(views):
            left = len(views[i]) - offset
            if n >= left:
                n -= left
                i += 1
                offset = 0
            else:
                offset += n
                n = 0


def _granted_socket(client, handle, fd):
    from ._granted import GrantedSocket  # imported on the first grant: most workers never need it
    return GrantedSocket(client, handle, fd)


def _handles(handles):
    return handles if type(handles) is list or type(handles) is tuple else list(handles)


def _clamp(data):
    """At most MAX_SEND_BYTES of ``data`` (a str is sent as UTF-8)."""
    if len(data) > MAX_SEND_BYTES // 4:
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif isinstance(data, memoryview):
            data = data.cast("B") if data.c_contiguous else data.tobytes()
        if len(data) > MAX_SEND_BYTES:
            data = data[:MAX_SEND_BYTES]
    return data


_HELLO = spec("hello")
_ABI_VERSION = spec("abi_version")
_CAP_ACQUIRE = spec("cap_acquire")
_CAP_DROP = spec("cap_drop")
_CAP_QUERY = spec("cap_query")
_HANDLE_CLOSE = spec("handle_close")
_SANDBOX_NOTIFY = spec("sandbox_notify")
_LOG_WRITE = spec("log_write")
_TIME_MONOTONIC_NS = spec("time_monotonic_ns")
_TIME_WALL_NS = spec("time_wall_ns")
_TASK_SELF = spec("task_self")
_TASK_YIELD = spec("task_yield")
_TASK_EXIT = spec("task_exit")
_TASK_SPAWN = spec("task_spawn")
_TASK_STATUS = spec("task_status")
_IPC_CHANNEL_CREATE = spec("ipc_channel_create")
_IPC_SEND = spec("ipc_send")
_IPC_RECV = spec("ipc_recv")
_IPC_CLOSE = spec("ipc_close")
_IPC_SEND_MANY = spec("ipc_send_many")
_IPC_RECV_MANY = spec("ipc_recv_many")
_NET_SOCKET = spec("net_socket")
_NET_BIND = spec("net_bind")
_NET_LISTEN = spec("net_listen")
_NET_ACCEPT = spec("net_accept")
_NET_CONNECT = spec("net_connect")
_NET_SEND = spec("net_send")
_NET_RECV = spec("net_recv")
_NET_SHUTDOWN = spec("net_shutdown")
_NET_CLOSE = spec("net_close")
_NET_ADDR = spec("net_addr")
_NET_ERROR = spec("net_error")
_NET_SENDTO = spec("net_sendto")
_NET_RECVFROM = spec("net_recvfrom")
_IO_OPEN = spec("io_open")
_IO_READ = spec("io_read")
_IO_WRITE = spec("io_write")
_IO_SEEK = spec("io_seek")
_IO_STAT = spec("io_stat")
_IO_CLOSE = spec("io_close")
_IO_POLL = spec("io_poll")
