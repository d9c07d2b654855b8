"""``KernelSelector``: a ``selectors.BaseSelector`` with one wait for host descriptors and kernel objects.

One ``select.epoll`` holds the host file descriptors registered with it (asyncio's self-pipe, granted sockets,
anything real) **and** the worker's kernel connection. Kernel objects (``KernelSocket``, ``Channel``, ``Task``,
``File``: anything whose ``fileno()`` is a key from :meth:`Client.key_of`, 2**30 and above, or such a key itself)
are watched by an ``io_poll`` request *parked* in the kernel: it is sent without waiting for its reply
(:meth:`Client.watch`), and when ``epoll`` says the kernel connection is readable the reply is collected
(:meth:`Client.try_collect`). So a ``select`` costs one ``epoll_wait``, plus one write only when the set of kernel
objects changed or the parked poll answered.

- **Chunks.** ``io_poll`` takes at most ``MAX_POLL_ITEMS`` pairs; a larger interest set is parked as several polls
  of ``MAX_POLL_ITEMS - 1`` pairs (each also watches the cancel channel, below).
- **Re-arming.** Every parked poll also watches a private kernel channel of the selector's. When the interest set
  changes, one write sends an empty message on it (which ends every parked poll at once), takes it back and parks
  the new polls; the old polls' replies are dropped (``io_poll`` reports state, not edges, so the new polls see
  whatever the old ones would have). Without the ``IPC`` capability there is no channel: a parked poll then waits
  at most ``FALLBACK_SLICE``, and a changed set is parked beside the old polls, which run out (at most
  ``MAX_OLD_POLLS`` of them; beyond, the new set waits for them).
- **Another thread's read.** The client is shared: a thread's call may read the parked poll's reply off the
  connection, so ``epoll`` sees nothing. The client then calls the selector's ``notify``, which writes to an
  ``eventfd`` the ``epoll`` holds.

Events: ``READABLE`` maps to ``EVENT_READ``, ``WRITABLE`` to ``EVENT_WRITE``; ``HANGUP`` and ``ERROR`` (always
reported by the kernel) map to whichever of the two was asked for, as ``epoll`` does with ``EPOLLHUP`` and
``EPOLLERR``: the caller's next read or write then sees the end of stream or the error.
"""

import math as _math
import os as _os
import select as _select
import selectors as _selectors
from collections.abc import Mapping as _Mapping
from time import monotonic as _monotonic

from . import _abi
from ._calls import result
from ._calls import spec as _spec
from ._client import KEY_BASE

__all__ = ["KernelSelector", "EVENT_READ", "EVENT_WRITE", "FALLBACK_SLICE"]

EVENT_READ = _selectors.EVENT_READ
EVENT_WRITE = _selectors.EVENT_WRITE
_READISH = _abi.EV_READABLE | _abi.EV_HANGUP | _abi.EV_ERROR
_WRITEISH = _abi.EV_WRITABLE | _abi.EV_HANGUP | _abi.EV_ERROR
_INTEREST = (0, _abi.EV_READABLE, _abi.EV_WRITABLE, _abi.EV_READABLE | _abi.EV_WRITABLE)
_EPOLL_IN = _select.EPOLLIN
_EPOLL_OUT = _select.EPOLLOUT
_EPOLL_READ = _select.EPOLLIN | _select.EPOLLHUP | _select.EPOLLERR | _select.EPOLLRDHUP
_EPOLL_WRITE = _select.EPOLLOUT | _select.EPOLLHUP | _select.EPOLLERR
_IO_POLL = _spec("io_poll")
_IPC_SEND = _spec("ipc_send")
_IPC_RECV = _spec("ipc_recv")
_HANDLE_CLOSE = _spec("handle_close")
# Pairs per parked io_poll: one slot of MAX_POLL_ITEMS is the cancel channel's.
CHUNK_PAIRS = _abi.MAX_POLL_ITEMS - 1
# Without a cancel channel (no IPC capability), the longest a parked poll waits (seconds): a changed interest set
# is seen at most this late.
FALLBACK_SLICE = 0.05
# (no cancel channel) Most polls of older sets left to run out while a new set is parked: the kernel lets a task
# park MAX_PARKED_CALLS (64), and other threads may be waiting in polls of their own.
MAX_OLD_POLLS = 32


def _key_of(fileobj):
    """The int key of a file object (its ``fileno()``), as ``selectors`` reads it."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError("Invalid file object: {!r}".format(fileobj)) from None
    if fd < 0:
        raise ValueError("Invalid file descriptor: {}".format(fd))
    return fd


class _KeyMapping(_Mapping):
    __slots__ = ("_map", "_lookup")

    def __init__(self, map_, lookup):
        self._map = map_
        self._lookup = lookup

    def __len__(self):
        return len(self._map)

    def __getitem__(self, fileobj):
        try:
            return self._map[self._lookup(fileobj)]
        except (KeyError, ValueError):
            raise KeyError("{!r} is not registered".format(fileobj)) from None

    def __iter__(self):
        return iter(self._map)


class KernelSelector(_selectors.BaseSelector):
    """A selector over host file descriptors and the kernel handles of ``client`` (the process-wide client by
    default)."""

    def __init__(self, client=None):
        if client is None:
            from . import client as default_client

            client = default_client()
        self._client = client
        self._epoll = _select.epoll()
        self._map = {}  # key or fd -> SelectorKey
        self._kernel = {}  # key -> SelectorKey of the kernel objects (also in _map)
        self._mapping = _KeyMapping(self._map, self._lookup)
        self._wake = _os.eventfd(0, _os.EFD_NONBLOCK | _os.EFD_CLOEXEC)
        self._epoll.register(self._wake, _EPOLL_IN)
        self._kfd = None  # the kernel connection's fd while it is in the epoll
        self._by_handle = {}  # handle -> key, for the parked polls' answers
        self._chunks = None  # [[handle, interest, ...], ...] for the current set; None when it changed
        self._parked = {}  # seq -> chunk index of the polls parked for the current set
        self._idle = set()  # chunk indexes whose poll answered (to park again)
        self._cancel = None  # (rx, tx) of the cancel channel; False when none can be made
        self._stale = False  # (no cancel channel) the set changed while polls of the old one are parked
        self._old = {}  # seq -> None: polls of an old set still parked (no cancel channel)
        self.polls = 0  # io_poll requests parked (statistics)
        self.rearms = 0  # cancellations of parked polls (statistics)

    @property
    def client(self):
        return self._client

    def stats(self):
        """What this selector asked of the kernel so far: io_poll requests parked and parked polls cancelled."""
        return {"polls": self.polls, "rearms": self.rearms}

    def notify(self):
        """Wakes a ``select`` (any thread; called by the client when another thread read a parked poll's reply)."""
        try:
            _os.eventfd_write(self._wake, 1)
        except (OSError, ValueError):
            pass  # closed meanwhile

    # -- registration --------------------------------------------------------------------------------------------

    def _lookup(self, fileobj):
        try:
            return _key_of(fileobj)
        except ValueError:
            for key in self._map.values():  # a closed object: find it by identity, as selectors does
                if key.fileobj is fileobj:
                    return key.fd
            raise

    def register(self, fileobj, events, data=None):
        if not events or events & ~(EVENT_READ | EVENT_WRITE):
            raise ValueError("Invalid events: {!r}".format(events))
        key = _key_of(fileobj)
        if key in self._map:
            raise KeyError("{!r} (FD {}) is already registered".format(fileobj, key))
        skey = _selectors.SelectorKey(fileobj, key, events, data)
        if key >= KEY_BASE:
            if self._client.handle_of(key) is None:
                raise ValueError("%r: key %d names no kernel handle of this client (closed?)" % (fileobj, key))
            self._kernel[key] = skey
            self._chunks = None
        else:
            self._epoll.register(key, self._epoll_mask(events))
        self._map[key] = skey
        return skey

    @staticmethod
    def _epoll_mask(events):
        return (_EPOLL_IN if events & EVENT_READ else 0) | (_EPOLL_OUT if events & EVENT_WRITE else 0)

    def unregister(self, fileobj):
        try:
            skey = self._map.pop(self._lookup(fileobj))
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None
        if skey.fd >= KEY_BASE:
            del self._kernel[skey.fd]
            self._chunks = None
        else:
            try:
                self._epoll.unregister(skey.fd)
            except OSError:
                pass  # closed already, as selectors allows
        return skey

    def modify(self, fileobj, events, data=None):
        try:
            key = self._lookup(fileobj)
            skey = self._map[key]
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None
        if events != skey.events:
            if not events or events & ~(EVENT_READ | EVENT_WRITE):
                raise ValueError("Invalid events: {!r}".format(events))
            if key >= KEY_BASE:
                self._chunks = None
            else:
                self._epoll.modify(key, self._epoll_mask(events))
        elif data is skey.data:
            return skey
        skey = skey._replace(events=events, data=data)
        self._map[key] = skey
        if key >= KEY_BASE:
            self._kernel[key] = skey
        return skey

    def get_key(self, fileobj):
        try:
            return self._map[self._lookup(fileobj)]
        except (KeyError, ValueError):
            raise KeyError("{!r} is not registered".format(fileobj)) from None

    def get_map(self):
        return self._mapping

    def close(self):
        client = self._client
        seqs = list(self._parked) + list(self._old)
        self._parked.clear()
        self._old.clear()
        cancel, self._cancel = self._cancel, False
        if not client.closed:
            try:
                if cancel:
                    if seqs:
                        client.watch([(_IPC_SEND, (cancel[1], b"", ()))], drop=1)
                    client.watch([(_HANDLE_CLOSE, (cancel[0],)), (_HANDLE_CLOSE, (cancel[1],))], drop=2)
                for seq in seqs:
                    client.abandon(seq)
            except Exception:
                pass
        self._map.clear()
        self._kernel.clear()
        self._by_handle.clear()
        self._chunks = None
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
            _os.close(self._wake)
            self._wake = -1

    # -- select --------------------------------------------------------------------------------------------------

    def select(self, timeout=None):
        if self._epoll is None:
            raise ValueError("I/O operation on a closed selector")
        results = {}
        if timeout is not None and timeout < 0:
            timeout = None
        deadline = None if timeout is None else _monotonic() + timeout
        while True:
            woken = self._select_once(timeout, results)
            if results or not woken or timeout == 0:
                return [(k, m) for k, m in results.values()]
            # Only the kernel connection or the eventfd woke the wait, and nothing registered is ready (a cancelled
            # poll's reply, a reply another thread took): wait again, for what is left of the timeout.
            if deadline is not None:
                timeout = deadline - _monotonic()
                if timeout <= 0:
                    return []

    def _select_once(self, timeout, results):
        """One epoll_wait (after re-arming the parked polls); adds the ready keys to ``results``. True when the wait
        ended only for the kernel connection or the eventfd, or did not wait because a poll's answer was in."""
        shortened = False
        if self._kernel or self._parked or self._old:
            if self._collect(False, results):
                timeout = 0  # a reply routed meanwhile (by a call): report it without waiting
                shortened = True
            self._arm()
            if self._stale:
                timeout = FALLBACK_SLICE if timeout is None or timeout < 0 else min(timeout, FALLBACK_SLICE)
        if self._kfd is not None and not self._parked and not self._old:
            self._epoll.unregister(self._kfd)  # nothing parked: replies on the connection are for calls that wait
            self._kfd = None
        if timeout is None:
            timeout = -1
        elif timeout <= 0:
            timeout = 0
        else:
            timeout = _math.ceil(timeout * 1e3) * 1e-3  # (as selectors does: never wake before the timer is due)
        try:
            events = self._epoll.poll(timeout, len(self._map) + 2)
        except InterruptedError:
            return shortened
        check = False
        host = False
        kfd = self._kfd
        for fd, ev in events:
            if fd == kfd:
                check = True
                continue
            if fd == self._wake:
                try:
                    _os.eventfd_read(self._wake)
                except (BlockingIOError, OSError):
                    pass
                check = True
                continue
            host = True
            skey = self._map.get(fd)
            if skey is None:
                continue
            mask = 0
            if ev & _EPOLL_READ:
                mask |= EVENT_READ
            if ev & _EPOLL_WRITE:
                mask |= EVENT_WRITE
            mask &= skey.events
            if mask:
                results[fd] = [skey, mask]
        if check and (self._parked or self._old):
            self._collect(True, results)
        return (check or shortened) and not host

    def _collect(self, read, results):
        """Takes the replies of parked polls that are in (reading the connection first with ``read``); adds
        their events to ``results``. True when some poll answered."""
        client = self._client
        answered = False
        if self._old:
            for seq in list(self._old):
                if client.try_collect(seq, read) is not None:
                    del self._old[seq]
                    read = False
                    answered = True
            if not self._old and self._stale:
                self._stale = False
                self._chunks = None
        for seq, index in list(self._parked.items()):
            reply = client.try_collect(seq, read)
            if reply is None:
                continue
            read = False  # one read per select takes whatever is there
            answered = True
            del self._parked[seq]
            self._idle.add(index)
            self._translate(result(_IO_POLL, reply, ()), results)
        return answered

    def _translate(self, ready, results):
        by_handle = self._by_handle
        kernel = self._kernel
        for i in range(0, len(ready), 2):
            skey = kernel.get(by_handle.get(ready[i]))  # (the registration as it is now)
            if skey is None:
                continue  # the cancel channel, or a handle unregistered since
            ev = ready[i + 1]
            mask = 0
            if ev & _READISH and skey.events & EVENT_READ:
                mask = EVENT_READ
            if ev & _WRITEISH and skey.events & EVENT_WRITE:
                mask |= EVENT_WRITE
            if mask:
                entry = results.get(skey.fd)
                if entry is None:
                    results[skey.fd] = [skey, mask]
                else:
                    entry[1] |= mask

    def _build(self):
        """The chunks of pairs for the current kernel registrations."""
        pairs = []
        by_handle = {}
        handle_of = self._client.handle_of
        for key, skey in self._kernel.items():
            h = handle_of(key)
            if h is None:
                continue  # its handle was closed and the key released while registered: nothing to poll
            pairs.append(h)
            pairs.append(_INTEREST[skey.events])
            by_handle[h] = key
        self._by_handle = by_handle
        step = 2 * CHUNK_PAIRS
        self._chunks = [pairs[i:i + step] for i in range(0, len(pairs), step)]
        return self._chunks

    def _arm(self):
        """Makes the parked polls match the kernel registrations: parks the chunks that have no poll, after
        cancelling the polls of an older set."""
        chunks = self._chunks
        client = self._client
        before = []
        if chunks is None:
            if self._stale:
                return  # (no cancel channel) the old set's polls are still parked: park when they answer
            chunks = self._build()
            if self._parked:
                cancel = self._cancel_channel()
                old = list(self._parked)
                self._parked.clear()
                self.rearms += 1
                if cancel:
                    # One write: the message ends every parked poll at once, is taken back, and the new polls park.
                    before = [(_IPC_SEND, (cancel[1], b"", ())), (_IPC_RECV, (cancel[0],))]
                    for seq in old:
                        client.abandon(seq)
                else:
                    # No channel to end them: the old polls run out (FALLBACK_SLICE at most; their replies are
                    # dropped) while the new set parks beside them, unless that would take too many parked calls.
                    self._old.update(dict.fromkeys(old))
                    if len(self._old) + len(chunks) > MAX_OLD_POLLS:
                        self._stale = True
                        self._chunks = None
                        return
            self._idle = set(range(len(chunks)))
        if not self._idle:
            if before:
                client.watch(before, drop=len(before))
            return
        cancel = self._cancel_channel()
        if cancel:
            timeout = -1
            tail = [cancel[0], _abi.EV_READABLE]
        else:
            timeout = int(FALLBACK_SLICE * 1e9)
            tail = []
        indexes = sorted(self._idle)
        calls = before + [(_IO_POLL, (chunks[i] + tail, timeout)) for i in indexes]
        seqs = client.watch(calls, self.notify, drop=len(before))
        self.polls += len(seqs)
        self._idle.clear()
        self._parked.update(zip(seqs, indexes))
        if self._kfd is None:
            self._kfd = client.fileno()
            self._epoll.register(self._kfd, _EPOLL_IN)

    def _cancel_channel(self):
        """The selector's cancel channel, made on first use; ``False`` when the task cannot make one."""
        cancel = self._cancel
        if cancel is None:
            from ._errors import DeniedError, KernelError
            from ._socket import ensure_caps

            try:
                ensure_caps(self._client, _abi.CAP_IPC, "the event loop's selector")
                cancel = self._client.ipc_channel_create()
            except (DeniedError, KernelError):
                cancel = False
            self._cancel = cancel
        return cancel
