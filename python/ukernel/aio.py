"""Kernel objects the asyncio way: channels, tasks and files that ``await`` instead of blocking the loop.

::

    import ukernel.aio as aio

    async def main():
        a, b = aio.Channel.pair()
        task = await aio.spawn("consumer", handles=[b])      # b moves into the new task
        await a.send(b"hello")
        a.close()
        code = await task.wait()                            # the task's exit code

    # in the consumer task
    async def main():
        ch = aio.Channel(aio.inherited_handles()[0])
        async for data, handles in ch:                      # until the producer closes its end
            ...

Waiting is readiness on the event loop: on the kernel's event loop (the default in a worker) a channel or task
handle is watched by the same ``io_poll`` as the sockets; on any other loop the wait runs ``io_poll`` in the
default executor. Files are always ready, so their calls run directly; they are ``async`` for symmetry.

Like the asyncio networking layer, these acquire the capability they use (``IPC``, ``TASK``, ``IO``) on first use
when the task's grant allows it, and raise ``PermissionError`` saying what to add to ``ukernel.toml`` otherwise.
"""

import asyncio as _asyncio
import os as _os
from collections import namedtuple as _namedtuple

from . import _abi
from ._errors import ClosedError, WouldBlockError
from ._objects import Channel as _SyncChannel
from ._objects import File as _SyncFile
from ._objects import Task as _SyncTask
from ._objects import OUTBOX_BYTES as _OUTBOX_BYTES
from ._objects import OUTBOX_MESSAGES as _OUTBOX_MESSAGES
from ._objects import buffers as _buffers
from ._objects import flush as _flush
from ._objects import poll_timeout_ns
from ._objects import wait_room as _wait_room
from ._errors import error_for as _error_for
from ._socket import KernelSocket, ensure_caps

__all__ = ["Channel", "Message", "Task", "File", "spawn", "open", "inherited_handles", "wait_readable",
           "wait_writable", "run", "KernelSocket", "new_event_loop"]

Message = _namedtuple("Message", "data handles")
_new_message = tuple.__new__  # Message from a (data, handles) pair, without unpacking
Message.__doc__ = "A channel message: ``data`` (bytes) and ``handles`` (the handle numbers it moved to this task)."

ENV_HANDLES = _abi.ENV_HANDLES
_MANY = 0x10003  # the kernel ABI version with ipc_send_many / ipc_recv_many


def _client(client):
    if client is not None:
        return client
    from . import client as default

    return default()


def inherited_handles():
    """The handles this task was started with (``task_spawn``'s ``handles``, in order), from ``UKERNEL_HANDLES``;
    ``[]`` when there were none."""
    value = _os.environ.get(ENV_HANDLES, "")
    return [int(h) for h in value.split(",") if h.strip()]


def run(main, *, debug=None):
    """``asyncio.run(main)`` on the kernel's event loop (what the worker's loader does for an ``async def main``)."""
    from ._loop import run as run_

    return run_(main, debug=debug)


def new_event_loop(client=None):
    """A new kernel event loop (``KernelEventLoop``)."""
    from ._loop import KernelEventLoop

    return KernelEventLoop(client)


async def _wait(obj, events, timeout=None):
    """Waits until the handle behind ``obj`` has ``events`` (or HANGUP/ERROR); False when ``timeout`` passed."""
    loop = _asyncio.get_running_loop()
    client = obj.client
    if events & _abi.EV_READABLE and client.channels:
        b = client.channels.get(obj.handle)
        if b is not None and b.inbox:  # messages a run brought are already here
            return True
    selector = getattr(loop, "_selector", None)
    if getattr(selector, "client", None) is client:
        key = obj.fileno()
        fut = loop.create_future()

        def ready():
            if not fut.done():
                fut.set_result(True)

        if events & _abi.EV_WRITABLE:
            loop.add_writer(key, ready)
            remove = loop.remove_writer
        else:
            loop.add_reader(key, ready)
            remove = loop.remove_reader
        try:
            if timeout is None:
                return await fut
            try:
                return await _asyncio.wait_for(fut, timeout)
            except _asyncio.TimeoutError:
                return False
        finally:
            remove(key)
    ready = await loop.run_in_executor(None, client.io_poll, ((obj.handle, events),), poll_timeout_ns(timeout))
    return bool(ready)


async def wait_readable(obj, timeout=None):
    """Waits until a kernel object (``Channel``, ``Task``, ``KernelSocket``...) is readable or hung up; False when
    ``timeout`` seconds passed first."""
    return await _wait(obj, _abi.EV_READABLE, timeout)


async def wait_writable(obj, timeout=None):
    """Waits until a kernel object is writable (or hung up, or in error); False when ``timeout`` passed first."""
    return await _wait(obj, _abi.EV_WRITABLE, timeout)


class _Wrapper:
    __slots__ = ("_obj",)

    @property
    def handle(self):
        """The handle number, or ``None`` once closed or moved."""
        return self._obj.handle

    @property
    def client(self):
        return self._obj.client

    @property
    def closed(self):
        return self._obj.closed

    @property
    def sync(self):
        """The underlying synchronous object (``ukernel.Channel``, ``ukernel.Task``, ``ukernel.File``)."""
        return self._obj

    def fileno(self):
        return self._obj.fileno()

    def detach(self):
        return self._obj.detach()

    def close(self):
        self._obj.close()

    async def aclose(self):
        self._obj.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self._obj.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._obj.close()

    def __repr__(self):
        return "<ukernel.aio.%s %s>" % (type(self).__name__, "handle %d" % self.handle if self.handle else "closed")


def _unwrap(handles):
    return [h._obj if isinstance(h, _Wrapper) else h for h in handles]


class Channel(_Wrapper):
    """One endpoint of a kernel channel, awaitable: ``await send()`` waits while the peer's queue is full,
    ``await recv()`` while it is empty; ``async for message in channel`` reads until the peer closes.

    ``Channel(h)`` wraps a handle number (or a ``ukernel.Channel``); :meth:`pair` creates a channel.
    """

    __slots__ = ()

    def __init__(self, handle, client=None):
        if isinstance(handle, _SyncChannel):
            self._obj = handle
        else:
            self._obj = _SyncChannel(handle, _client(client))
        ensure_caps(self._obj.client, _abi.CAP_IPC, "a channel")

    @classmethod
    def pair(cls, client=None):
        """A new channel: its two endpoints."""
        client = _client(client)
        ensure_caps(client, _abi.CAP_IPC, "a channel")
        a, b = _SyncChannel.pair(client)
        return cls(a), cls(b)

    async def send(self, data, handles=()):
        """Queues ``data`` (at most 64 KiB) toward the peer, moving ``handles`` (numbers, or channels/tasks/files,
        which become closed here). ``BrokenPipeError`` (``ukernel.ClosedError``) when the peer is closed.

        A message without handles is buffered in this process and handed to the kernel with the other sends of the
        same loop iteration in one ``ipc_send_many`` (ABI 1.3): ``send`` returns at once while fewer than
        ``OUTBOX_MESSAGES``/``OUTBOX_BYTES`` wait here, and waits (in the loop) while the peer's queue is full
        beyond that. Order is kept, with handle-carrying sends too (they go after everything buffered, and wait
        for their own reply). A peer that closes meanwhile is reported by the next ``send`` (or ``drain``); what
        was buffered for it is dropped, as the kernel drops messages queued toward a closed endpoint."""
        obj = self._obj
        if handles or (obj.client.kernel_abi_version or _MANY) < _MANY:  # a kernel before 1.3: one call each
            await self.drain()
            handles = _unwrap(handles)
            while True:
                try:
                    return obj.send(data, handles)
                except WouldBlockError:
                    h = obj._live()
                    await _wait_room(obj.client, h, _buffers(obj.client, h))
        h = obj._live()
        client = obj.client
        b = client.channels.get(h) or _buffers(client, h)
        if b.error is not None:
            e, b.error = b.error, None
            raise e
        if type(data) is not bytes:
            data = bytes(data)
        if len(data) > _abi.MAX_MSG_BYTES:
            raise _error_for(_abi.ERR_TOOBIG, "ipc_send")
        b.outbox.append(data)
        b.out_bytes += len(data)
        if len(b.outbox) >= _OUTBOX_MESSAGES or b.out_bytes >= _OUTBOX_BYTES:
            # hand them over (the reply is taken at the next flush), waiting in the loop while the queue is full
            while not _flush(client, h, b, True):
                await _wait_room(client, h, b)
            if b.error is not None:
                e, b.error = b.error, None
                raise e
        elif not b.scheduled and b.draining is None:
            b.scheduled = True
            _asyncio.get_running_loop().call_soon(_flush_soon, client, h, b)

    async def drain(self):
        """Waits until every message ``send`` buffered here is queued in the kernel (raises what the flush met:
        ``ClosedError`` when the peer closed)."""
        obj = self._obj
        h = obj._live()
        client = obj.client
        b = client.channels.get(h)
        if b is None:
            return
        while not _flush(client, h, b):
            await _wait_room(client, h, b)
        if b.error is not None:
            e, b.error = b.error, None
            raise e

    async def recv(self):
        """The next :class:`Message` ``(data, handles)``; waits while none is queued. ``BrokenPipeError``
        (``ukernel.ClosedError``) once the peer is closed and every message was taken. Messages come from the
        kernel many per call (``ipc_recv_many``, ABI 1.3) and are handed out one by one from this process."""
        obj = self._obj
        client = obj.client
        while True:
            h = obj._live()
            b = client.channels.get(h)
            if b is not None and b.inbox:
                return _new_message(Message, b.inbox.popleft())
            try:
                if (client.kernel_abi_version or _MANY) < _MANY:  # a kernel before 1.3: one call each
                    return Message(*client.ipc_recv(h))
                msgs = client.ipc_recv_many(h)
            except WouldBlockError:
                await _wait(obj, _abi.EV_READABLE)
                continue
            if len(msgs) > 1:
                (b or _buffers(client, h)).inbox.extend(msgs[1:])
            return Message(*msgs[0])

    async def aclose(self):
        """Closes after what ``send`` buffered is queued in the kernel (``close()`` defers the close behind it)."""
        if not self._obj.closed:
            try:
                await self.drain()
            except ClosedError:
                pass
        self._obj.close()

    async def __aexit__(self, *exc):
        await self.aclose()

    def __aiter__(self):
        return self

    async def __anext__(self):
        obj = self._obj
        b = obj._client.channels.get(obj._handle)
        if b is not None and b.inbox:  # the common case while a run received in one call lasts
            return _new_message(Message, b.inbox.popleft())
        try:
            return await self.recv()
        except ClosedError:
            raise StopAsyncIteration from None


def _flush_soon(client, handle, b):
    """(call_soon after a buffered send) Hands the outbox to the kernel; a full queue leaves the rest to a task that
    waits for room."""
    b.scheduled = False
    if b.draining is not None or client.channels.get(handle) is not b:
        return
    try:
        if _flush(client, handle, b, True):
            return
    except Exception as e:  # limits.queued_bytes: the next send raises it
        b.error = e
        return
    b.draining = _asyncio.get_running_loop().create_task(_drain_later(client, handle, b))


async def _drain_later(client, handle, b):
    try:
        while True:
            await _wait_room(client, handle, b)
            if client.channels.get(handle) is not b or b.draining == "close":
                return
            if _flush(client, handle, b, True):
                return
    except _asyncio.CancelledError:
        raise  # the loop is ending: the loader's flush_all hands what is left to the kernel
    except Exception as e:
        b.error = e
    finally:
        if b.draining is _asyncio.current_task():
            b.draining = None


class Task(_Wrapper):
    """A task started with :func:`spawn` (or ``Task(handle)``): ``await task.wait()`` gives its exit code."""

    __slots__ = ()

    def __init__(self, handle, client=None):
        if isinstance(handle, _SyncTask):
            self._obj = handle
        else:
            self._obj = _SyncTask(handle, _client(client))
        ensure_caps(self._obj.client, _abi.CAP_TASK, "a task handle")

    async def wait(self, timeout=None):
        """The task's exit code once it has ended; ``None`` when ``timeout`` seconds passed first."""
        if not await _wait(self._obj, _abi.EV_READABLE, timeout):
            return None
        return self._obj.exit_code

    def status(self):
        """``(state, exit_code)``: ``TASK_RUNNING`` and 0, or ``TASK_EXITED`` and its code."""
        return self._obj.status()

    @property
    def exit_code(self):
        """The exit code once the task has ended, else ``None``."""
        return self._obj.exit_code


async def spawn(entry, caps=None, handles=(), client=None):
    """Starts the ``[[task]]`` named ``entry`` of ``ukernel.toml``, moving ``handles`` (numbers or objects, which
    become closed here) into it; returns its :class:`Task`. ``caps`` (``Cap`` flags or names like ``"LOG|IPC"``)
    bounds what it may acquire; by default, what this task holds (the child gets no more than its ``[[task]]``
    grants either way). The child finds its handles with :func:`inherited_handles`."""
    from . import _mask

    client = _client(client)
    ensure_caps(client, _abi.CAP_TASK, "spawning a task")
    mask = client.cap_query()[0] if caps is None else _mask((caps,))
    return Task(_SyncTask.spawn(entry, mask, _unwrap(handles), client))


_MODES = {
    "r": _abi.OPEN_READ,
    "r+": _abi.OPEN_READ | _abi.OPEN_WRITE,
    "w": _abi.OPEN_WRITE | _abi.OPEN_CREATE | _abi.OPEN_TRUNCATE,
    "w+": _abi.OPEN_READ | _abi.OPEN_WRITE | _abi.OPEN_CREATE | _abi.OPEN_TRUNCATE,
    "a": _abi.OPEN_WRITE | _abi.OPEN_CREATE | _abi.OPEN_APPEND,
    "a+": _abi.OPEN_READ | _abi.OPEN_WRITE | _abi.OPEN_CREATE | _abi.OPEN_APPEND,
    "x": _abi.OPEN_WRITE | _abi.OPEN_CREATE | _abi.OPEN_EXCLUSIVE,
    "x+": _abi.OPEN_READ | _abi.OPEN_WRITE | _abi.OPEN_CREATE | _abi.OPEN_EXCLUSIVE,
}


class File(_Wrapper):
    """A file in a preopened directory. Its calls complete at once in the kernel (files are always ready), so
    they run directly on the loop's thread; the methods are ``async`` so that code reads like the rest."""

    __slots__ = ()

    def __init__(self, handle, client=None):
        if isinstance(handle, _SyncFile):
            self._obj = handle
        else:
            self._obj = _SyncFile(handle, _client(client))
        ensure_caps(self._obj.client, _abi.CAP_IO, "a file")

    async def read(self, n=-1):
        """Up to ``n`` bytes (``n < 0``: to the end); ``b""`` at the end of the file."""
        return self._obj.read(n)

    async def write(self, data):
        """Writes all of ``data`` (``str`` as UTF-8); returns its length."""
        return self._obj.write(data)

    async def seek(self, offset, whence=_abi.SEEK_SET):
        return self._obj.seek(offset, whence)

    async def tell(self):
        return self._obj.tell()

    async def stat(self):
        """``(size, mtime_ns, kind)``."""
        return self._obj.stat()


async def open(preopen, path, mode="r", client=None):
    """Opens ``path`` inside the preopen named ``preopen`` (``[caps.io]`` of ``ukernel.toml``). ``mode`` is ``"r"``,
    ``"w"``, ``"a"``, ``"x"`` (with ``+`` for both directions; ``b`` is accepted and ignored: files are bytes) or
    an ``OPEN_*`` mask."""
    client = _client(client)
    if isinstance(mode, str):
        try:
            flags = _MODES[mode.replace("b", "")]
        except KeyError:
            raise ValueError("invalid mode %r (r, w, a, x, with + and b)" % (mode,)) from None
    else:
        flags = int(mode)
    ensure_caps(client, _abi.CAP_IO, "opening a file")
    return File(_SyncFile.open(preopen, path, flags, client))
