"""The selector's one wait (``epoll`` over host descriptors and the kernel connection, with an ``io_poll`` parked for
the kernel objects), against a scripted peer on a socketpair (no kernel, no timing):

- a write to a host descriptor (asyncio's self-pipe: ``call_soon_threadsafe``) ends a select that waits on both;
- another thread's call that reads the parked poll's reply off the shared connection wakes the select (the
  ``eventfd``): found with the old design, where a wake-up that landed while the loop prepared to wait was lost;
- a changed interest set cancels the parked poll through the selector's channel and parks the new one, in one
  write; large sets are parked in chunks of at most ``MAX_POLL_ITEMS`` pairs.
"""

import socket
import threading

import pytest

from test_loop_client import HANG, TOKEN, ParkingPeer
from ukernel import _abi
from ukernel._client import Client
from ukernel._selector import CHUNK_PAIRS, EVENT_READ, KernelSelector
from ukernel._wire import encode_reply

RX, TX = 900, 901  # the handles the peer gives the selector's cancel channel


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    peer = SelectorPeer(b)
    peer.start()
    client = Client.from_socket(a, TOKEN)
    yield client, peer
    client.close()


class SelectorPeer(ParkingPeer):
    """ParkingPeer that also answers cap_query (every capability active) and ipc_channel_create, and counts the
    io_poll requests parked so far."""

    def __init__(self, sock, ipc=True):
        super().__init__(sock)
        self.park_events = threading.Condition()
        self.ipc = ipc

    def send(self, data):
        try:
            super().send(data)
        except OSError:
            pass  # the client closed its end (the selector's last posts)

    def received_at_least(self, n):
        with self.park_events:
            return self.park_events.wait_for(lambda: len(self.calls) >= n, HANG)

    def parked_at_least(self, n):
        with self.park_events:
            return self.park_events.wait_for(lambda: len(self.parked) >= n, HANG)

    def run(self):
        from ukernel._wire import decode_request

        buf = bytearray()
        with self.sock:
            while True:
                try:
                    data = self.sock.recv(1 << 16)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while True:
                    frame, used = decode_request(buf)
                    if frame is None:
                        break
                    del buf[:used]
                    seq, call, values = frame
                    name = _NAMES[call]
                    with self.park_events:
                        self.calls.append((name, values))
                        self.park_events.notify_all()
                    if name == "hello":
                        self.send(encode_reply(seq, _abi.OK, (1, _abi.VERSION)))
                    elif name == "cap_query":
                        every = (1 << len(_abi.CAP_NAMES)) - 1
                        if not self.ipc:
                            every &= ~_abi.CAP_IPC
                        self.send(encode_reply(seq, _abi.OK, (every, every)))
                    elif name == "ipc_channel_create":
                        self.send(encode_reply(seq, _abi.OK, (RX, TX)))
                    elif name == "io_poll" and values[1] != 0:
                        with self.park_events:
                            self.parked.append(seq)
                            self.park_events.notify_all()
                        self.parked_one.set()
                    elif name == "ipc_send":
                        self.send(encode_reply(seq, _abi.OK))
                        self.release((RX, _abi.EV_READABLE))
                    elif name == "ipc_recv":
                        self.send(encode_reply(seq, _abi.OK, (b"", ())))
                    elif name == "io_poll":
                        self.send(encode_reply(seq, _abi.OK, ((),)))
                    else:
                        self.send(encode_reply(seq, _abi.OK, (seq,) if name == "time_monotonic_ns" else ()))


_NAMES = {s[0]: name for name, s in _abi.CALLS.items()}


class Handle:
    """A stand-in for a kernel object: its fileno() is the client's key for ``handle``."""

    def __init__(self, client, handle):
        self.handle = handle
        self.key = client.key_of(handle, self)

    def fileno(self):
        return self.key


def _select_in_thread(sel, timeout=None):
    out = []
    t = threading.Thread(target=lambda: out.append(sel.select(timeout)), daemon=True)
    t.start()
    return t, out


def test_a_write_to_a_host_descriptor_ends_a_select_that_waits_on_the_kernel_too(pair):
    client, peer = pair
    sel = KernelSelector(client)
    kobj = Handle(client, 5)
    sel.register(kobj, EVENT_READ, "kernel")
    r, w = socket.socketpair()
    sel.register(r, EVENT_READ, "self-pipe")
    t, out = _select_in_thread(sel)
    assert peer.parked_at_least(1), "no io_poll was parked for the kernel object"
    w.send(b"\0")  # what call_soon_threadsafe does from another thread
    t.join(HANG)
    assert not t.is_alive(), "the select did not end on the host descriptor"
    assert [(k.data, m) for k, m in out[0]] == [("self-pipe", EVENT_READ)]
    # the parked poll stays parked across selects while the interest set is the same
    before = [c[0] for c in peer.calls].count("io_poll")
    r.recv(1)
    assert sel.select(0) == []
    assert [c[0] for c in peer.calls].count("io_poll") == before
    sel.close()
    r.close()
    w.close()


def test_another_threads_call_that_reads_the_parked_reply_wakes_the_select(pair):
    client, peer = pair
    sel = KernelSelector(client)
    kobj = Handle(client, 5)
    sel.register(kobj, EVENT_READ, "kernel")
    t, out = _select_in_thread(sel)
    assert peer.parked_at_least(1)
    # another thread's call waits for its reply as the connection's reader (a parked poll of its own)
    other = threading.Thread(target=lambda: client.io_poll([(9, _abi.EV_READABLE)], -1), daemon=True)
    other.start()
    assert peer.parked_at_least(2)
    # both polls are answered; the other thread reads the selector's reply off the connection (it holds the
    # reader role until its own reply), so the selector's epoll finds nothing to read: only the eventfd wakes it
    peer.release((5, _abi.EV_READABLE))
    t.join(HANG)
    other.join(HANG)
    assert not t.is_alive(), "the select was not woken when another thread read its poll's reply"
    assert [(k.data, m) for k, m in out[0]] == [("kernel", EVENT_READ)]
    sel.close()


def test_a_changed_interest_set_cancels_the_parked_poll_in_one_write(pair):
    client, peer = pair
    sel = KernelSelector(client)
    a = Handle(client, 5)
    b = Handle(client, 6)
    sel.register(a, EVENT_READ, "a")
    assert sel.select(0) == []
    assert peer.parked_at_least(1)
    n = len(peer.calls)
    sel.register(b, EVENT_READ, "b")
    assert sel.select(0) == []
    assert peer.received_at_least(n + 3) and peer.parked_at_least(1)
    sent = [(name, values) for name, values in peer.calls[n:]]
    assert [name for name, _ in sent] == ["ipc_send", "ipc_recv", "io_poll"], sent
    assert sent[0][1][0] == TX and sent[1][1][0] == RX
    assert list(sent[2][1][0]) == [5, _abi.EV_READABLE, 6, _abi.EV_READABLE, RX, _abi.EV_READABLE]
    assert len(peer.parked) == 1 and sel.stats()["rearms"] == 1
    peer.release((6, _abi.EV_READABLE))
    assert [(k.data, m) for k, m in sel.select(None)] == [("b", EVENT_READ)]
    assert client.time_monotonic_ns() > 0  # the cancelled poll's reply was dropped, not mistaken for this one's
    sel.close()


def test_a_large_interest_set_is_parked_in_chunks(pair):
    client, peer = pair
    sel = KernelSelector(client)
    n = 2 * CHUNK_PAIRS + 10
    objs = [Handle(client, 1000 + i) for i in range(n)]
    for o in objs:
        sel.register(o, EVENT_READ, o.handle)
    assert sel.select(0) == []
    assert peer.parked_at_least(3)
    polls = [values[0] for name, values in peer.calls if name == "io_poll"]
    assert len(polls) == 3
    assert all(len(p) <= 2 * _abi.MAX_POLL_ITEMS and list(p[-2:]) == [RX, _abi.EV_READABLE] for p in polls)
    watched = sorted(h for p in polls for h in p[0:-2:2])
    assert watched == [o.handle for o in objs]
    peer.release((objs[-1].handle, _abi.EV_READABLE))
    got = sel.select(None)
    assert (objs[-1].handle, EVENT_READ) in [(k.data, m) for k, m in got]
    sel.close()


def test_without_ipc_a_changed_set_parks_beside_the_old_poll():
    a_sock, b_sock = socket.socketpair()
    peer = SelectorPeer(b_sock, ipc=False)
    peer.start()
    client = Client.from_socket(a_sock, TOKEN)
    try:
        sel = KernelSelector(client)
        a = Handle(client, 5)
        b = Handle(client, 6)
        sel.register(a, EVENT_READ, "a")
        assert sel.select(0) == []
        assert peer.parked_at_least(1)
        sel.register(b, EVENT_READ, "b")
        assert sel.select(0) == []
        assert peer.parked_at_least(2)  # no cancel channel: the new set parks at once, beside the old poll
        names = [name for name, _ in peer.calls]
        assert "ipc_channel_create" not in names and "ipc_send" not in names, names
        polls = [values for name, values in peer.calls if name == "io_poll"]
        assert list(polls[-1][0]) == [5, _abi.EV_READABLE, 6, _abi.EV_READABLE]
        assert all(0 < timeout <= 50_000_000 for _, timeout in polls)  # each runs out within FALLBACK_SLICE
        peer.release((6, _abi.EV_READABLE))  # answers both; the old one's reply is dropped
        assert [(k.data, m) for k, m in sel.select(None)] == [("b", EVENT_READ)]
        sel.close()
    finally:
        client.close()
