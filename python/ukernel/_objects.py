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


def _take_handles(objects):
    """Handle numbers for ``objects`` (ints, or handle objects, which lose ownership only once the call has
    succeeded: see :func:`_moved`)."""
    numbers = []
    for o in objects:
        if isinstance(o, _HandleObject):
            numbers.append(o._live())
        elif isinstance(o, int):
            numbers.append(o)
        else:
            raise TypeError("a handle is an int, a Channel or a Task, got %s" % type(o).__name__)
    return numbers


def _moved(objects):
    for o in objects:
        if isinstance(o, _HandleObject):
            h = o._handle
            o._handle = None
            if h is not None:
                o._client.forget_key(h)


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
        numbers = _take_handles(handles)
        self._client.ipc_send(self._live(), data, numbers)
        _moved(handles)

    def recv(self):
        """``(data, handles)``: the next message and the handle numbers it carried (now this task's; wrap a
        channel endpoint with ``Channel(h)``). ``WouldBlockError`` when none is queued, ``ClosedError`` when the
        peer is closed and nothing is left."""
        return self._client.ipc_recv(self._live())

    def wait(self, events=_abi.EV_READABLE, timeout=None):
        """Waits until one of ``events`` (or ``EV_HANGUP``) holds, at most ``timeout`` seconds (``None``:
        forever); returns the events (an int, 0 when the timeout passed)."""
        ready = self._wait(events, timeout)
        return ready[0][1] if ready else 0


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
        numbers = _take_handles(handles)
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
