"""A small object layer over handles: :class:`Channel` (one endpoint of an IPC channel), :class:`Task` (a
task handle) and :class:`File` (an open file).

Each object owns one handle of its :class:`~ukernel.Client` (the process-wide client by default) until it is
closed, moved to another task (sent with :meth:`Channel.send`, or passed to :meth:`Task.spawn`), or given
up with ``detach()``; after that its ``handle`` is ``None`` and using it raises ``ValueError``. Objects are never
closed by the garbage collector (a kernel call from a finalizer could land in the middle of another call): use
``close()`` or ``with``. Wait for them with ``io_poll`` (or :meth:`Channel.wait` / :meth:`Task.wait`), or in
asyncio with ``ukernel.aio``. ``fileno()`` is not a host file descriptor: it is the client's key for the handle
(``Client.key_of``), which the kernel event loop's selector maps back to the handle, so
``loop.add_reader(channel, callback)`` works on the kernel event loop.
"""

from . import _abi
from ._calls import result, spec

_SEND_MANY = spec("ipc_send_many")

__all__ = ["Channel", "Task", "File", "poll_timeout_ns"]


def poll_timeout_ns(timeout):
    """An ``io_poll`` timeout in ns for ``timeout`` seconds, as ``selectors`` reads it: ``None`` waits
    forever (-1), ``<= 0`` checks once (0); a positive timeout is at least 1 ns."""
    if timeout is None:
        return -1
    if timeout <= 0:
        return 0
    return max(1, int(timeout * 1e9))


def _default_client(client):
    if client is not None:
        return client
    from . import client as default

    return default()


def _take_handles(objects, client=None):
    """Handle numbers for ``objects`` (ints, or handle objects, which lose ownership only once the call has
    succeeded: see :func:`_moved`). A channel endpoint with messages buffered in this process (sent and not yet
    queued in the kernel, or received and not yet read) cannot move: they would be lost with it."""
    numbers = []
    for o in objects:
        if isinstance(o, _HandleObject):
            numbers.append(o._live())
            buffered = o._client.channels
        elif isinstance(o, int):
            numbers.append(o)
            buffered = client.channels if client is not None else None
        else:
            raise TypeError("a handle is an int, a Channel or a Task, got %s" % type(o).__name__)
        b = buffered.get(numbers[-1]) if buffered else None
        if b is not None and (b.outbox or b.inflight or b.inbox):
            raise ValueError("channel endpoint %d has %d message(s) sent and not yet queued in the kernel and %d "
                             "received and not yet read: await its drain() and read what it holds before moving it"
                             % (numbers[-1], len(b.outbox), len(b.inbox)))
    return numbers


def _moved(objects):
    for o in objects:
        if isinstance(o, _HandleObject):
            h = o._handle
            o._handle = None
            if h is not None:
                o._client.forget_key(h)
                o._client.channels.pop(h, None)


# Sends buffered per channel endpoint before one ipc_send_many (ABI 1.3) takes them: at this many messages or bytes
# the sender hands them over (one run in flight, its reply taken at the next hand-over); a run the queue refused goes
# back to the front, so a stalled receiver costs the sender at most twice this, and then it waits for room.
OUTBOX_MESSAGES = 1024
OUTBOX_BYTES = 256 * 1024
# What one ipc_send_many carries at most (its frame stays well inside MAX_FRAME_BYTES).
_SEND_MANY_BYTES = 768 * 1024


class Buffers:
    """What this process holds for one channel endpoint (``Client.channels[handle]``): ``inbox``, messages taken
    from the kernel by one ``ipc_recv_many`` and not yet read (in order, ahead of anything still in the kernel);
    ``outbox``, payloads sent with ``ukernel.aio.Channel.send`` not yet queued in the kernel (in order, ahead of any
    later send); ``error``, the error of a background flush, raised by the next send."""

    __slots__ = ("inbox", "outbox", "inflight", "out_bytes", "error", "scheduled", "draining", "waiter")

    def __init__(self):
        from collections import deque

        self.inbox = deque()
        self.outbox = []
        self.inflight = None  # (seq, payloads) of the ipc_send_many written and not answered yet (flush's post)
        self.out_bytes = 0  # of outbox and inflight
        self.error = None
        self.scheduled = False
        self.draining = None
        self.waiter = None  # the one wait for room every flusher of this endpoint shares (one writer per key)


def buffers(client, handle):
    """The :class:`Buffers` of ``handle`` (created on first use)."""
    b = client.channels.get(handle)
    if b is None:
        b = client.channels[handle] = Buffers()
    return b


def flush(client, handle, b, post=False):
    """Hands the outbox to the kernel with ``ipc_send_many`` calls until it is empty (True) or the peer's queue is
    full (False). With ``post``, the last call is written without waiting for its reply: ``b.inflight`` keeps it,
    and the next flush takes the reply first (what the queue did not take goes back to the front of the outbox, so
    order holds: one call per endpoint is ever in flight). The peer closed: what is buffered is dropped and
    ``ClosedError`` kept in ``b.error`` (True). Any other error (``limits.queued_bytes``) is raised, the messages
    kept."""
    from ._errors import ClosedError, WouldBlockError

    out = b.outbox
    if b.inflight is not None:
        seq, sent = b.inflight
        b.inflight = None
        try:
            taken = result(_SEND_MANY, client.collect(seq), ())
        except WouldBlockError:
            taken = 0
        except ClosedError as e:
            b.error = e
            del out[:]
            b.out_bytes = 0
            return True
        except BaseException:
            out[:0] = sent
            raise
        if taken < len(sent):
            b.out_bytes -= sum(map(len, sent[:taken]))
            out[:0] = sent[taken:]
            return False
        b.out_bytes -= sum(map(len, sent))
    while out:
        n = 0
        size = 0
        most = min(len(out), _abi.MAX_BATCH_MSGS)
        while n < most and (n == 0 or size + len(out[n]) <= _SEND_MANY_BYTES):
            size += len(out[n])
            n += 1
        if post and n == len(out):
            sent = out[:]
            seq = client.submit(((_SEND_MANY, (handle, b"".join(sent), list(map(len, sent)), (), ())),))[0]
            b.inflight = (seq, sent)
            del out[:]
            return True
        try:
            taken = client.ipc_send_many(handle, out[:n])
        except WouldBlockError:
            return False
        except ClosedError as e:
            b.error = e
            del out[:]
            b.out_bytes = 0
            return True
        b.out_bytes -= sum(map(len, out[:taken])) if taken < n else size
        del out[:taken]
        if taken < n:
            return False
    return True


def flush_blocking(client, handle, b):
    """Flushes the outbox, waiting in ``io_poll`` (this thread blocks) while the peer's queue is full."""
    while not flush(client, handle, b):
        client.io_poll(((handle, _abi.EV_WRITABLE),), -1)


def flush_all(client):
    """Hands every buffered send of this process to the kernel, waiting while queues are full (the loader calls it
    when the task's entry returns, so what ``send`` accepted is not lost with the process); then closes the
    endpoints whose ``close()`` was deferred behind their outbox."""
    from ._errors import KernelError

    for handle, b in list(client.channels.items()):
        try:
            if b.outbox or b.inflight:
                flush_blocking(client, handle, b)
            if b.draining == "close":
                client.handle_close(handle)
        except KernelError:
            pass
        client.channels.pop(handle, None)


class _HandleObject:
    __slots__ = ("_client", "_handle")
    _kind = "handle"

    def __init__(self, handle, client=None):
        self._client = _default_client(client)
        self._handle = handle

    @property
    def handle(self):
        """The handle number in this task's table, or ``None`` once closed, moved or detached."""
        return self._handle

    @property
    def client(self):
        return self._client

    @property
    def closed(self):
        """Whether this object no longer owns a handle (closed, moved to another task, or detached)."""
        return self._handle is None

    def _live(self):
        h = self._handle
        if h is None:
            raise ValueError("this %s is closed (or was moved to another task)" % self._kind)
        return h

    def detach(self):
        """Gives up ownership of the handle and returns its number (it stays open)."""
        h = self._live()
        self._handle = None
        self._client.forget_key(h)
        return h

    def close(self):
        """Closes the handle (no capability is needed); closing again does nothing."""
        h = self._handle
        if h is not None:
            self._handle = None
            self._client.forget_key(h)
            if self._client.channels and h in self._client.channels and _close_buffered(self._client, h):
                return
            self._client.handle_close(h)

    def fileno(self):
        """The key of this handle for selectors and ``loop.add_reader`` on the kernel event loop (not a host file
        descriptor: see the module's documentation)."""
        return self._client.key_of(self._live(), self)

    def _wait(self, interest, timeout):
        return self._client.io_poll(((self._live(), interest),), poll_timeout_ns(timeout))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "handle %d" % self._handle if self._handle is not None else "closed"
        return "<ukernel.%s %s>" % (type(self).__name__, state)


class Channel(_HandleObject):
    """One endpoint of an IPC channel (needs the ``IPC`` capability; ``close()`` needs none, and the peer then
    sees ``EV_HANGUP``).

    ``a, b = Channel.pair()`` creates a channel; ``a.send(b"hi", [b])`` would move ``b`` itself into the
    message. ``Channel(handle)`` wraps an endpoint received in a message or at spawn.
    """

    __slots__ = ()
    _kind = "channel endpoint"

    @classmethod
    def pair(cls, client=None):
        """A new channel: its two endpoints ``(Channel, Channel)``."""
        client = _default_client(client)
        h0, h1 = client.ipc_channel_create()
        return cls(h0, client), cls(h1, client)

    def send(self, data, handles=()):
        """Queues ``data`` toward the peer, moving ``handles`` (numbers, or :class:`Channel`/:class:`Task`
        objects, which become closed here) with it. ``WouldBlockError`` when the peer's queue is full,
        ``ClosedError`` when the peer is closed."""
        handles = list(handles)
        numbers = _take_handles(handles, self._client)
        h = self._live()
        self._flush_first(h)
        self._client.ipc_send(h, data, numbers)
        _moved(handles)

    def _flush_first(self, h):
        """Sends buffered by ``ukernel.aio`` go before this one; ``WouldBlockError`` if they do not all fit."""
        b = self._client.channels.get(h) if self._client.channels else None
        if b is not None:
            if b.error is not None:
                e, b.error = b.error, None
                raise e
            if (b.outbox or b.inflight) and not flush(self._client, h, b):
                from ._errors import WouldBlockError

                raise WouldBlockError(None, "ipc_send")

    def send_many(self, messages):
        """(ABI 1.3) Queues the longest prefix of ``messages`` (``bytes``, or ``(bytes, handles)``) the peer's queue
        takes, in one kernel call; returns how many were queued. ``WouldBlockError`` when none fit,
        ``ClosedError`` when the peer is closed. Handle objects in messages are not closed here: pass numbers."""
        h = self._live()
        self._flush_first(h)
        return self._client.ipc_send_many(h, messages)

    def recv(self):
        """``(data, handles)``: the next message and the handle numbers it carried (now this task's; wrap a
        channel endpoint with ``Channel(h)``). ``WouldBlockError`` when none is queued, ``ClosedError`` when the
        peer is closed and nothing is left."""
        h = self._live()
        b = self._client.channels.get(h) if self._client.channels else None
        if b is not None and b.inbox:
            return b.inbox.popleft()
        return self._client.ipc_recv(h)

    def recv_many(self, max_msgs=_abi.MAX_BATCH_MSGS, max_bytes=_abi.MAX_BATCH_BYTES):
        """(ABI 1.3) The oldest messages, at most ``max_msgs`` and ``max_bytes`` of payload (the first whatever its
        size), in one kernel call: a list of ``(data, handles)``. Errors as :meth:`recv`."""
        h = self._live()
        b = self._client.channels.get(h) if self._client.channels else None
        if b is not None and b.inbox:
            out = []
            while b.inbox and len(out) < max_msgs:
                out.append(b.inbox.popleft())
            return out
        return self._client.ipc_recv_many(h, max_msgs, max_bytes)

    def wait(self, events=_abi.EV_READABLE, timeout=None):
        """Waits until one of ``events`` (or ``EV_HANGUP``) holds, at most ``timeout`` seconds (``None``:
        forever); returns the events (an int, 0 when the timeout passed)."""
        h = self._live()
        b = self._client.channels.get(h) if self._client.channels else None
        if b is not None and b.inbox and events & _abi.EV_READABLE:
            return _abi.EV_READABLE  # messages already taken from the kernel wait here
        ready = self._wait(events, timeout)
        return ready[0][1] if ready else 0


def _close_buffered(client, handle):
    """Closing an endpoint that has buffers: handles in unread received messages are closed (as the kernel closes
    those of messages queued toward a closed endpoint); sends not yet queued in the kernel go first. On a running
    event loop of this thread the close is deferred behind them (True: the caller must not close now), elsewhere
    this thread waits for room. False: close now."""
    b = client.channels.get(handle)
    for _, handles in b.inbox:
        for x in handles:
            client.post_close(x)
    b.inbox.clear()
    if not b.outbox and b.inflight is None:
        client.channels.pop(handle, None)
        return False
    loop = None
    try:
        import asyncio

        loop = asyncio.get_running_loop()
    except RuntimeError:
        pass
    if loop is None:
        flush_blocking(client, handle, b)
        client.channels.pop(handle, None)
        return False

    async def drain_then_close():
        from ._errors import KernelError

        try:
            while not flush(client, handle, b):
                await wait_room(client, handle, b)
        except KernelError:
            pass
        # (Cancelled, when the loop ends first: the buffers stay, and the loader's flush_all finishes the job.)
        client.channels.pop(handle, None)
        try:
            client.handle_close(handle)
        except KernelError:
            pass

    b.draining = "close"
    loop.create_task(drain_then_close())
    return True


async def wait_room(client, handle, b):
    """Waits in the running loop until the peer's queue has room (or the peer closed): one wait per endpoint, shared
    by whoever flushes it (a second ``add_writer`` on the same key would replace the first one's callback)."""
    import asyncio

    from .aio import _wait

    w = b.waiter
    if w is None or w.done():
        w = b.waiter = asyncio.ensure_future(_wait(Channel(handle, client), _abi.EV_WRITABLE))
    await asyncio.shield(w)


class Task(_HandleObject):
    """A handle on a task started with :meth:`Task.spawn` (``status`` needs the ``TASK`` capability).

    Closing the handle does not affect the task.
    """

    __slots__ = ()
    _kind = "task handle"

    @classmethod
    def spawn(cls, entry, caps, handles=(), client=None):
        """Starts the ``[[task]]`` named ``entry`` with at most ``caps`` (``Cap`` flags or names like
        ``"LOG|IPC"``, within the active set), moving ``handles`` (numbers, or :class:`Channel`/:class:`Task`
        objects, which become closed here) into it as its handles 1, 2, ...; returns the :class:`Task`."""
        from . import _mask

        client = _default_client(client)
        handles = list(handles)
        numbers = _take_handles(handles, client)
        handle = client.task_spawn(entry, _mask((caps,)), numbers)
        _moved(handles)
        return cls(handle, client)

    def status(self):
        """``(state, exit_code)``: ``TASK_RUNNING`` and 0, or ``TASK_EXITED`` and the task's exit code."""
        return self._client.task_status(self._live())

    @property
    def exit_code(self):
        """The exit code once the task has ended, else ``None``."""
        state, code = self.status()
        return code if state == _abi.TASK_EXITED else None

    def wait(self, timeout=None):
        """Waits until the task ends, at most ``timeout`` seconds (``None``: forever); returns its exit code, or
        ``None`` when the timeout passed first."""
        if not self._wait(_abi.EV_READABLE, timeout):
            return None
        return self.exit_code


class File(_HandleObject):
    """An open file inside a preopened directory (needs the ``IO`` capability; ``close()`` needs none).

    ``File.open("data", "notes.txt", OpenFlag.WRITE | OpenFlag.CREATE)`` opens one; ``File(handle)`` wraps a file
    handle. Reads and writes complete at once (files are always ready); :meth:`read` and :meth:`write` loop over
    the per-call limit of a frame.
    """

    __slots__ = ()
    _kind = "file"

    @classmethod
    def open(cls, preopen, path, flags=_abi.OPEN_READ, client=None):
        client = _default_client(client)
        return cls(client.io_open(preopen, path, flags), client)

    def read(self, n=-1):
        """Up to ``n`` bytes from the position (``n < 0``: to the end of the file); ``b""`` at the end."""
        h = self._live()
        if n is not None and n >= 0:
            return self._client.io_read(h, n) if n else b""
        chunks = []
        while True:
            chunk = self._client.io_read(h, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def write(self, data):
        """Writes all of ``data`` (a ``str`` as UTF-8); returns its length."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        h = self._live()
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += self._client.io_write(h, view[done:])
        return done

    def seek(self, offset, whence=_abi.SEEK_SET):
        """Moves the position; returns the new one."""
        return self._client.io_seek(self._live(), offset, whence)

    def tell(self):
        return self._client.io_seek(self._live(), 0, _abi.SEEK_CUR)

    def stat(self):
        """``(size, mtime_ns, kind)``."""
        return self._client.io_stat(self._live())
