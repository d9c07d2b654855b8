"""``KernelSelector``: a ``selectors.BaseSelector`` whose ``select(timeout)`` is one ``io_poll`` call.

It watches kernel handles, never host file descriptors. A "file object" is anything with a ``fileno()`` that
returns a key from :meth:`Client.key_of` (``KernelSocket``, ``Channel``, ``Task``, ``File``), or such a key
itself; the selector maps keys back to handles. A host file descriptor is refused with ``ValueError``: a worker
reaches nothing on the host directly, so there is nothing it could wait for there.

Events: ``READABLE`` maps to ``EVENT_READ``, ``WRITABLE`` to ``EVENT_WRITE``; ``HANGUP`` and ``ERROR`` (always
reported by the kernel) map to whichever of the two was asked for, as ``epoll`` does with ``EPOLLHUP`` and
``EPOLLERR``: the caller's next read or write then sees the end of stream or the error.

Batching (a kernel round trip costs far more than ``epoll_wait``, so the selector makes few of them):

- **Prefetch.** When a poll reports ``KernelSocket``s readable, the selector reads all of them with one batch of
  ``net_recv`` calls and leaves the bytes in each socket, so the transports' ``recv()`` calls that follow cost
  nothing. A socket holding such bytes counts as readable for the next ``select`` even when the kernel has
  nothing more for it (e.g. after ``pause_reading``/``resume_reading``).
- **Write-behind.** On the loop's thread, a transport's ``send()`` queues the bytes in its ``KernelSocket`` (see
  ``_socket``); the selector sends every socket's queue in the same write as its next poll or prefetch.
- **Snapshot.** Every prefetch batch ends with a poll that does not wait; its answer is acted on by the next
  ``select`` without asking again: that select's batch carries the queued writes, the reads of the sockets the
  snapshot saw readable and the next snapshot's poll. Under load an iteration of the loop is one round trip.
- **Busy loop.** While callbacks are waiting (asyncio's ``select(0)`` between two rounds of callbacks), the kernel
  is asked at most every ``BUSY_POLL_INTERVAL``; queued writes gather meanwhile.
- Only when nothing is known to be ready does ``select`` wait in ``io_poll``, with the queued writes in the same
  write. The kernel may take only part of them; the socket must then be watched for ``WRITABLE``, which the
  parked poll does not do, so such a poll waits only if the loop can nudge it (its wake-up channel), else at most
  ``FLUSH_WAIT``.
"""

import selectors as _selectors
from _thread import get_ident as _get_ident
from collections.abc import Mapping as _Mapping
from time import monotonic as _monotonic

from . import _abi
from ._calls import result
from ._calls import spec as _spec
from ._errors import error_for as _error
from ._client import KEY_BASE
from ._objects import poll_timeout_ns
from ._socket import PREFETCH_BYTES

__all__ = ["KernelSelector", "EVENT_READ", "EVENT_WRITE"]

EVENT_READ = _selectors.EVENT_READ
EVENT_WRITE = _selectors.EVENT_WRITE
_READISH = _abi.EV_READABLE | _abi.EV_HANGUP | _abi.EV_ERROR
_WRITEISH = _abi.EV_WRITABLE | _abi.EV_HANGUP | _abi.EV_ERROR
_INTEREST = (0, _abi.EV_READABLE, _abi.EV_WRITABLE, _abi.EV_READABLE | _abi.EV_WRITABLE)
_NET_RECV = _spec("net_recv")
_NET_SEND = _spec("net_send")
_NET_SHUTDOWN = _spec("net_shutdown")
_HANDLE_CLOSE = _spec("handle_close")
_IO_POLL = _spec("io_poll")
# How long a closed socket's queued bytes may wait for the kernel to take them (as the kernel lingers on close).
CLOSE_LINGER = 30.0
# The longest a poll sent together with writes may wait when the loop cannot nudge it (seconds; see _select).
FLUSH_WAIT = 0.02
# While callbacks keep the loop busy, the longest it goes without asking the kernel (seconds; see _select).
BUSY_POLL_INTERVAL = 0.001
# With more pairs than one io_poll takes, the chunks are polled side by side and none may wait longer than this
# (seconds): a ready handle in one chunk is then seen within it even while another chunk's poll waits.
CHUNKED_WAIT = 0.05


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
    __slots__ = ("_selector",)

    def __init__(self, selector):
        self._selector = selector

    def __len__(self):
        return len(self._selector._map)

    def __getitem__(self, fileobj):
        try:
            return self._selector._map[self._selector._lookup(fileobj)]
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None

    def __iter__(self):
        return iter(self._selector._map)


class KernelSelector(_selectors.BaseSelector):
    """A selector over kernel handles for ``client`` (the process-wide client by default).

    Hooks for the event loop: ``before_block`` (called before a poll that may wait), ``max_block`` (seconds: the
    longest a poll may wait, ``None`` for no bound), ``ready_hint`` (a sized container, e.g. the loop's ready
    queue: when it is not empty the poll does not wait), ``prefetch`` (batch the reads of readable sockets).
    ``polling`` is true from the start of ``select`` until the poll's reply is in.
    """

    def __init__(self, client=None):
        if client is None:
            from . import client as default_client

            client = default_client()
        self._client = client
        self._map = {}  # key -> SelectorKey
        self._by_handle = None  # handle -> SelectorKey (rebuilt with _flat)
        self._flat = None  # [handle, interest, ...] for io_poll
        self._buffered = set()  # KernelSockets holding prefetched bytes
        self._mapping = _KeyMapping(self)
        self.before_block = None
        self.can_nudge = None
        self.nudge = None
        self.max_block = None
        self.ready_hint = ()
        self.prefetch = True
        self.polling = False
        self._dirty = set()  # KernelSockets with queued bytes, or a shutdown or close waiting for them
        self._blocked = {}  # handle -> KernelSocket whose queued bytes wait for WRITABLE
        self._thread = None  # the thread that selects (write-behind applies to sends made from it)
        self._snapshot = None  # readiness seen by the last batch's trailing poll, for the next select
        self._last_poll = _monotonic()
        # Statistics: io_poll calls; prefetch batches and sockets read in them; flush batches and sockets in them.
        self.polls = 0
        self.prefetch_batches = 0
        self.prefetched = 0
        self.flushes = 0
        self.flushed = 0
        self.skipped = 0  # non-waiting polls skipped while callbacks were waiting

    @property
    def client(self):
        return self._client

    def stats(self):
        """What this selector asked of the kernel so far: io_poll calls, non-waiting polls skipped while
        callbacks were waiting, prefetch batches and the sockets read in them, write batches and the sockets in
        them."""
        return {"polls": self.polls, "skipped": self.skipped, "prefetch_batches": self.prefetch_batches,
                "prefetched": self.prefetched, "flushes": self.flushes, "flushed": self.flushed}

    # -- registration --------------------------------------------------------------------------------------------

    def _lookup(self, fileobj):
        try:
            return _key_of(fileobj)
        except ValueError:
            for key in self._map.values():  # a closed object: find it by identity, as selectors does
                if key.fileobj is fileobj:
                    return key.fd
            raise

    def _handle(self, key, fileobj):
        handle = self._client.handle_of(key)
        if handle is None:
            if key < KEY_BASE:
                raise ValueError(
                    "%r: file descriptor %d is a host file descriptor; a ukernel worker cannot wait on host files "
                    "or sockets (kernel sockets, channels, tasks and files have keys from %d up: use "
                    "KernelSocket / asyncio streams, ukernel.aio, or Client.key_of(handle))"
                    % (fileobj, key, KEY_BASE))
            raise ValueError("%r: key %d names no kernel handle of this client (closed?)" % (fileobj, key))
        return handle

    def register(self, fileobj, events, data=None):
        if not events or events & ~(EVENT_READ | EVENT_WRITE):
            raise ValueError("Invalid events: {!r}".format(events))
        key = _key_of(fileobj)
        if key in self._map:
            raise KeyError("{!r} (FD {}) is already registered".format(fileobj, key))
        self._handle(key, fileobj)
        skey = _selectors.SelectorKey(fileobj, key, events, data)
        self._map[key] = skey
        self._flat = None
        return skey

    def unregister(self, fileobj):
        try:
            skey = self._map.pop(self._lookup(fileobj))
        except KeyError:
            raise KeyError("{!r} is not registered".format(fileobj)) from None
        self._flat = None
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
            skey = skey._replace(events=events, data=data)
            self._map[key] = skey
            self._flat = None
        elif data is not skey.data:
            skey = skey._replace(data=data)
            self._map[key] = skey
            if self._by_handle is not None:
                self._by_handle[self._handle(key, fileobj)] = skey
        return skey

    def get_key(self, fileobj):
        try:
            return self._map[_key_of(fileobj) if type(fileobj) is not int else fileobj]
        except (KeyError, ValueError):
            try:
                return self._map[self._lookup(fileobj)]
            except (KeyError, ValueError):
                raise KeyError("{!r} is not registered".format(fileobj)) from None

    def get_map(self):
        return self._mapping

    def close(self):
        self._snapshot = None
        if self._dirty:
            try:
                self.flush_all()
            except Exception:
                pass
        self._thread = None  # sends after this are no longer written behind
        self._map.clear()
        self._flat = None
        self._by_handle = None
        self._buffered.clear()

    # -- select --------------------------------------------------------------------------------------------------

    def _build(self):
        flat = []
        by_handle = {}
        handle_of = self._client.handle_of
        for key, skey in self._map.items():
            h = handle_of(key)
            if h is None:
                continue  # its handle was closed and the key released while registered: nothing to poll
            flat.append(h)
            flat.append(_INTEREST[skey.events])
            by_handle[h] = skey
        self._flat = flat
        self._by_handle = by_handle
        return flat

    def select(self, timeout=None):
        self.polling = True
        self._thread = _get_ident()
        try:
            return self._select(timeout)
        finally:
            self.polling = False

    def _select(self, timeout):
        results = {}
        buffered = self._buffered
        if buffered:
            object_of = self._client.object_of
            for sock in list(buffered):
                if sock._closed or not sock._has_buffered():
                    buffered.discard(sock)
                    continue
                skey = self._map.get(sock._key)
                if skey is not None and skey.events & EVENT_READ and object_of(skey.fd) is sock:
                    results[skey.fd] = [skey, EVENT_READ]
        if results or self.ready_hint:
            # Callbacks are waiting: this is asyncio's non-waiting poll between two rounds of callbacks. A kernel
            # round trip costs far more than an epoll_wait(0), so it is skipped (and queued writes keep
            # gathering) unless the last poll is BUSY_POLL_INTERVAL old: the loop polls when it runs out of
            # callbacks, and at least that often while it is busy.
            if _monotonic() - self._last_poll < BUSY_POLL_INTERVAL:
                self.skipped += 1
                return [(k, m) for k, m in results.values()]
            timeout = 0
        self._last_poll = _monotonic()
        snapshot, self._snapshot = self._snapshot, None
        if snapshot and self._flat is not None:  # (a snapshot from before registrations changed is incomplete)
            # What the previous batch's trailing poll saw ready: act on it without waiting. The readable sockets
            # are read in the same write as the queued writes, together with a poll for the next round: under
            # load, one round trip per select.
            fetch = self._translate(snapshot, results)
            if fetch or self._dirty:
                self._fetch(fetch, results)
            return [(k, m) for k, m in results.values()]
        ready = None
        while self._dirty:
            # Queued writes, shutdowns and closes go out in one write together with the poll. A poll sent with
            # writes cannot learn their outcome: if the kernel takes only part of some bytes, the socket must be
            # watched for WRITABLE, which the parked poll does not do. So such a poll waits only when the loop
            # can nudge it (its wake-up channel) and else at most FLUSH_WAIT; with a shutdown or close queued
            # behind bytes, which needs another round once the bytes are taken, it does not wait.
            wait = timeout
            if wait is None or wait > 0:
                if any(sock._wshut or sock._wclose for sock in self._dirty):
                    wait = 0
                elif self._prepare_block():
                    wait = 0
                else:
                    limit = self.max_block
                    if self.can_nudge is None or not self.can_nudge():
                        limit = FLUSH_WAIT if limit is None else min(limit, FLUSH_WAIT)
                    if limit is not None and (wait is None or wait > limit):
                        wait = limit
            ready, again = self._batch((), wait)
            if ready is None:  # nothing could be sent (all blocked): poll below
                break
            if ready or not again:
                if not ready and wait == 0 and (timeout is None or timeout > 0):
                    ready = None  # the non-waiting poll found nothing: wait below
                break
        if ready is None:
            if timeout is None or timeout > 0:
                if self._prepare_block():
                    timeout = 0
                limit = self.max_block
                if limit is not None and (timeout is None or timeout > limit):
                    timeout = limit
            ready = self._poll(poll_timeout_ns(timeout))
        if ready:
            fetch = self._translate(ready, results)
            if fetch:
                # The readable sockets are read at once, in one batch, with a poll for the next round.
                self._fetch(fetch, results)
        return [(k, m) for k, m in results.values()]

    def _prepare_block(self):
        """Before a poll that may wait: lets the loop make its wake-up channel (``before_block``), then says whether
        callbacks are already waiting (``ready_hint``), in which case the poll must not wait. Another thread's
        ``call_soon_threadsafe`` made while the channel was being made (a kernel round trip) found no channel to
        post to; its callback is in the ready queue, and only this second look sees it. Once the channel exists,
        a later call posts to it and ends the poll."""
        if self.before_block is not None:
            self.before_block()
        return bool(self.ready_hint)

    def _fetch(self, fetch, results):
        """Sends the queued writes and reads ``fetch`` in one batch with a trailing non-waiting poll, whose answer
        is the next select's snapshot; EVENT_READ goes into ``results`` for the sockets that got something."""
        ready, _ = self._batch(fetch, 0)
        self._snapshot = ready or None
        self._fetched(fetch, results)

    def _translate(self, ready, results):
        """Adds the events of an io_poll answer to ``results`` ({fd: [key, mask]}); returns the readable
        KernelSockets to read in a batch (their EVENT_READ is added by _fetched once they hold something)."""
        if self._flat is None:  # registrations changed since that poll: map with the current ones
            self._build()
        by_handle = self._by_handle
        fetch = []
        blocked = self._blocked
        object_of = self._client.object_of
        prefetch = self.prefetch
        for i in range(0, len(ready), 2):
            h = ready[i]
            ev = ready[i + 1]
            if blocked and ev & _WRITEISH:
                sock = blocked.pop(h, None)
                if sock is not None:
                    sock._wblocked = False
            skey = by_handle.get(h)
            if skey is None:
                continue
            want = skey.events
            mask = 0
            if ev & _READISH and want & EVENT_READ:
                sock = object_of(skey.fd) if prefetch else None
                if sock is not None and getattr(sock, "_prefetchable", None) is not None and sock._prefetchable():
                    fetch.append(sock)
                else:
                    mask = EVENT_READ
            if ev & _WRITEISH and want & EVENT_WRITE:
                mask |= EVENT_WRITE
            if mask:
                entry = results.get(skey.fd)
                if entry is None:
                    results[skey.fd] = [skey, mask]
                else:
                    entry[1] |= mask
        return fetch

    def _fetched(self, fetch, results):
        """After a batch read ``fetch``: EVENT_READ for those that now hold bytes, an end of stream or an error."""
        for sock in fetch:
            if not sock._has_buffered():
                continue
            skey = self._map.get(sock._key)
            if skey is None:
                continue
            entry = results.get(skey.fd)
            if entry is None:
                results[skey.fd] = [skey, EVENT_READ]
            else:
                entry[1] |= EVENT_READ

    def _pairs(self):
        """The flat pairs for io_poll: the registrations, plus WRITABLE for sockets whose queued bytes the kernel
        could not take yet."""
        flat = self._flat
        if flat is None:
            flat = self._build()
        if self._blocked:
            flat = flat + [x for h in self._blocked for x in (h, _abi.EV_WRITABLE)]
        return flat

    def _poll(self, timeout_ns):
        flat = self._pairs()
        self.polls += 1
        if len(flat) <= 2 * _abi.MAX_POLL_ITEMS:
            return self._client.io_poll_flat(flat, timeout_ns)
        return self._poll_chunks(flat, timeout_ns)

    def _batch(self, fetch, wait):
        """One write to the kernel: every socket's queued bytes (or its pending shutdown or close), a net_recv for
        each socket of ``fetch`` (the bytes then wait in the socket), and a poll of ``wait`` seconds unless
        ``wait`` is ``False``. Returns ``(ready, again)``: the poll's answer (``None`` when there was nothing to
        send or read), and whether some socket has more to send at once (a queued shutdown or close behind bytes
        that were just taken). When the kernel takes only part of some bytes while the poll waits, the loop is
        nudged (``nudge``) so that the next poll watches the socket for WRITABLE."""
        calls = []
        plan = []
        dirty = self._dirty
        for sock in list(dirty):
            if sock._wblocked:
                continue
            h = sock._handle
            if sock._winflight:
                continue  # one send per socket at a time: the kernel may take part of it
            if sock._wlen:
                buf = sock._wbuf
                data = buf[0] if len(buf) == 1 else b"".join(buf)
                sock._wbuf = []  # sends made while this one is in flight queue behind it
                sock._wlen = 0
                sock._winflight = len(data)
                calls.append((_NET_SEND, (h, data)))
                plan.append((sock, 1, data))
            elif sock._wshut:
                calls.append((_NET_SHUTDOWN, (h, _abi.NET_SHUT_WR)))
                plan.append((sock, 2, None))
            elif sock._wclose:
                calls.append((_HANDLE_CLOSE, (h,)))
                plan.append((sock, 3, None))
            else:
                dirty.discard(sock)
        nsend = len(plan)
        if nsend:
            self.flushes += 1
            self.flushed += nsend
        for sock in fetch:
            calls.append((_NET_RECV, (sock._handle, PREFETCH_BYTES)))
            plan.append((sock, 4, None))
        if fetch:
            self.prefetch_batches += 1
            self.prefetched += len(fetch)
        if not calls:
            return None, False
        return self._complete(self._submit(calls, plan, fetch, wait))

    def _submit(self, calls, plan, fetch, wait):
        """Sends a batch built by _batch (plus the poll); its replies are taken by _complete."""
        with_poll = wait is not False
        if with_poll:
            flat = self._pairs()
            if len(flat) <= 2 * _abi.MAX_POLL_ITEMS:
                calls.append((_IO_POLL, (flat, poll_timeout_ns(wait))))
                self.polls += 1
            else:
                with_poll = False
        return self._client.submit(calls), plan, fetch, with_poll, wait

    def _complete(self, batch):
        """Takes the replies of a submitted batch: the sockets' queued bytes and read bytes are settled; returns
        ``(ready, again)`` as _batch does."""
        seqs, plan, fetch, with_poll, wait = batch
        client = self._client
        dirty = self._dirty
        try:
            replies = client.collect_all(seqs[:len(plan)])  # not the poll's: it may wait (see the nudge below)
        except BaseException:
            if with_poll:
                client.abandon(seqs[-1])
            raise
        again = False
        short = False
        buffered = self._buffered
        for (sock, what, data), reply in zip(plan, replies):
            if what == 4:
                if sock._prefetched(reply):
                    buffered.add(sock)
                continue
            status = reply[1]
            if what == 1:
                sock._winflight = 0
                if status == _abi.OK:
                    n = reply[2][0]
                    if n >= len(data):
                        if sock._wlen:
                            pass  # more was queued meanwhile: the next batch sends it
                        elif sock._wshut or sock._wclose:
                            again = True
                        else:
                            dirty.discard(sock)
                        continue
                    rest = data[n:]
                    sock._wbuf.insert(0, rest)  # ahead of what was queued meanwhile
                    sock._wlen += len(rest)
                elif status == _abi.ERR_WOULDBLOCK:
                    sock._wbuf.insert(0, data)
                    sock._wlen += len(data)
                else:
                    sock._write_failed(_error(status, "net_send"))
                    self._finish(sock)
                    continue
                short = True
                sock._wblocked = True  # wait for WRITABLE
                self._blocked[sock._handle] = sock
                if sock._wclose:
                    if sock._wdeadline is None:
                        sock._wdeadline = _monotonic() + CLOSE_LINGER
                    elif _monotonic() > sock._wdeadline:
                        self._finish(sock, force=True)
            elif what == 2:
                sock._wshut = False
                if sock._wclose:
                    again = True
                else:
                    dirty.discard(sock)
            else:
                sock._wclose = False
                sock._handle = None
                dirty.discard(sock)
        if not with_poll:
            return (), again
        if short and wait != 0 and self.nudge is not None:
            self.nudge()
        return result(_IO_POLL, client.collect(seqs[-1]), ()), again

    def _finish(self, sock, force=False):
        """A socket whose queued bytes failed (or a closing socket past its linger): done with it."""
        self._dirty.discard(sock)
        self._blocked.pop(sock._handle, None)
        sock._wblocked = False
        if sock._wclose or force:
            sock._wclose = False
            sock._wbuf = []
            sock._wlen = 0
            h, sock._handle = sock._handle, None
            if h is not None:
                self._client.post(_HANDLE_CLOSE, (h,))

    def flush_all(self, timeout=5.0):
        """Hands every queued byte, shutdown and close to the kernel, waiting at most ``timeout`` seconds for
        sockets whose kernel buffers are full (the event loop calls this when it closes)."""
        deadline = _monotonic() + timeout
        while self._dirty:
            ready, again = self._batch((), False)
            if again or not self._blocked:
                continue  # more to send at once, or all sent
            left = deadline - _monotonic()
            if left <= 0:
                break
            pairs = [x for h in self._blocked for x in (h, _abi.EV_WRITABLE)]
            self._client.io_poll_flat(pairs, poll_timeout_ns(min(left, 0.1)))
            for sock in list(self._blocked.values()):
                sock._wblocked = False
            self._blocked.clear()
        for sock in list(self._dirty):
            self._finish(sock, force=True)

    def _poll_chunks(self, flat, timeout_ns):
        """More pairs than one io_poll takes: the chunks are polled side by side, none waiting longer than
        CHUNKED_WAIT, and the ready pairs of all of them are returned."""
        ns = timeout_ns
        if ns < 0 or ns > CHUNKED_WAIT * 1e9:
            ns = int(CHUNKED_WAIT * 1e9)
        step = 2 * _abi.MAX_POLL_ITEMS
        client = self._client
        seqs = client.submit([(_IO_POLL, (flat[i:i + step], ns)) for i in range(0, len(flat), step)])
        ready = []
        for seq in seqs:
            ready.extend(result(_IO_POLL, client.collect(seq), ()))
        return ready
