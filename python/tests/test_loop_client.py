"""The client's reply routing, which the event loop relies on, against a scripted peer on a socketpair (no kernel):
a second thread's call completes while the first waits for a parked poll; replies are routed by seq whatever
their order; ``post`` (the loop's wake-up) never waits and its reply is dropped; a post from a signal handler that
interrupts a write goes out after the frame being written; ``submit``/``collect`` keep calls in flight."""

import signal
import socket
import threading

import pytest

from ukernel import _abi
from ukernel._calls import result, spec
from ukernel._client import KEY_BASE, Client
from ukernel._wire import decode_request, encode_reply

TOKEN = bytes(range(16))
NAMES = {s[0]: name for name, s in _abi.CALLS.items()}
HANG = 60  # seconds; only bounds a hang, never paces a test


def signal_this_thread_when(event, signum=signal.SIGALRM):
    """From a helper thread, sends ``signum`` to the calling thread once ``event`` is set: the signal lands while
    the caller waits for what set the event (a parked poll), never before, whatever the machine's load."""
    target = threading.get_ident()

    def fire():
        if event.wait(HANG):
            signal.pthread_kill(target, signum)

    threading.Thread(target=fire, daemon=True).start()


class ParkingPeer(threading.Thread):
    """Answers at once, except io_poll with a timeout, which it parks until an ipc_send arrives (like the kernel
    when the loop's wake-up message lands on the polled channel) or until ``release()``."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.parked = []
        self.parked_one = threading.Event()  # set when an io_poll is parked
        self.calls = []
        self.lock = threading.Lock()

    def send(self, data):
        with self.lock:
            self.sock.sendall(data)

    def release(self, events=()):
        parked, self.parked = self.parked, []
        for seq in parked:
            self.send(encode_reply(seq, _abi.OK, (tuple(events),)))

    def run(self):
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
                out = []
                while True:
                    frame, used = decode_request(buf)
                    if frame is None:
                        break
                    del buf[:used]
                    seq, call, values = frame
                    name = NAMES[call]
                    self.calls.append((name, values))
                    if name == "hello":
                        out.append(encode_reply(seq, _abi.OK, (1, _abi.VERSION)))
                    elif name == "io_poll" and values[1] != 0:
                        self.parked.append(seq)
                        self.parked_one.set()
                    elif name == "ipc_send":
                        out.append(encode_reply(seq, _abi.OK))
                        if out:
                            self.send(b"".join(out))
                            out = []
                        self.release((values[0], _abi.EV_READABLE))
                    elif name == "time_monotonic_ns":
                        out.append(encode_reply(seq, _abi.OK, (seq,)))
                    elif name == "io_poll":
                        out.append(encode_reply(seq, _abi.OK, ((),)))
                    elif name == "io_write":
                        out.append(encode_reply(seq, _abi.OK, (len(values[1]),)))
                    else:
                        out.append(encode_reply(seq, _abi.OK, (seq,) if name == "cap_acquire" else ()))
                if out:
                    self.send(b"".join(out))


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    peer = ParkingPeer(b)
    peer.start()
    client = Client.from_socket(a, TOKEN)
    yield client, peer
    client.close()


def test_a_second_thread_calls_while_the_first_waits_for_its_poll(pair):
    client, peer = pair
    polled = []
    poller = threading.Thread(target=lambda: polled.append(client.io_poll([(5, _abi.EV_READABLE)], -1)))
    poller.start()
    assert peer.parked_one.wait(HANG), "the poll did not reach the peer"
    # the poller thread is the reader, blocked in recv: other threads' replies are routed to them
    got = []
    threads = [threading.Thread(target=lambda: got.append(client.time_monotonic_ns())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
    assert len(got) == 8 and len(set(got)) == 8 and poller.is_alive()
    client.ipc_send(7, b"", [])  # the wake-up: the peer answers the parked poll
    poller.join(HANG)
    assert polled == [[(7, _abi.EV_READABLE)]]


def test_post_never_waits_and_its_reply_is_dropped(pair):
    client, peer = pair
    polled = []
    poller = threading.Thread(target=lambda: polled.append(client.io_poll([(3, 1)], -1)))
    poller.start()
    assert peer.parked_one.wait(HANG), "the poll did not reach the peer"
    client.post(spec("ipc_send"), (3, b"", ()))  # from another thread: the parked poll is answered
    poller.join(HANG)
    assert polled == [[(3, _abi.EV_READABLE)]]
    assert client.time_monotonic_ns() > 0  # the post's reply was dropped, not taken for this call's
    assert client.call("cap_acquire", 0) > 0


def test_submit_and_collect_out_of_order(pair):
    client, _ = pair
    s = spec("time_monotonic_ns")
    seqs = client.submit([(s, ()) for _ in range(5)])
    assert len(set(seqs)) == 5
    for seq in reversed(seqs):
        assert result(s, client.collect(seq), ()) == seq
    dropped = client.submit([(s, ())])[0]
    client.abandon(dropped)
    assert client.time_monotonic_ns() > dropped


class InterruptingSocket:
    """The client's socket, as the client sees it, with a slow reader on the other end: ``send`` takes at most 64 KiB
    per call (as a blocking send interrupted by a signal returns a partial count), and once a write is partly out,
    raises SIGALRM in this thread. Python runs the handler before the client's next bytecode, so the signal provably
    lands while a frame is half written, whatever the host's socket buffer sizes or the machine's load."""

    CHUNK = 64 << 10

    def __init__(self, sock):
        self._sock = sock
        self.armed = False
        self.partial_sends = 0

    def send(self, data, *flags):
        n = self._sock.send(memoryview(data)[:self.CHUNK], *flags)
        if n < len(data):
            self.partial_sends += 1
            if self.armed:
                self.armed = False
                signal.raise_signal(signal.SIGALRM)
        return n

    def __getattr__(self, name):
        return getattr(self._sock, name)


def test_post_from_a_signal_handler_during_a_write():
    a, b = socket.socketpair()
    peer = ParkingPeer(b)
    peer.start()
    sock = InterruptingSocket(a)
    client = Client.from_socket(sock, TOKEN)
    posted = []

    def on_alarm(signum, frame):  # lands in the middle of the big write below
        client.post(spec("ipc_send"), (9, b"from the handler", ()))
        posted.append(client._writing)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        sock.armed = True
        big = b"z" * (4 << 20)
        with client.batch() as batch:
            results = [batch.call("io_write", 4, big[i:i + 900_000]) for i in range(0, len(big), 900_000)]
        for r in results:
            r.result()
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert sock.partial_sends > 1, "the batch must have gone out in several writes"
    assert posted == [True], "the alarm did not land during the write: %r" % posted
    assert client.time_monotonic_ns() > 0  # the stream is intact: the posted frame went out after the batch
    names = [n for n, _ in peer.calls]
    assert names.count("ipc_send") == 1 and names.count("io_write") == len(results)
    assert names.index("ipc_send") > max(i for i, n in enumerate(names) if n == "io_write")
    client.close()


def test_keys_are_not_host_fds(pair):
    client, _ = pair
    k1 = client.key_of(2**31 - 5)
    k2 = client.key_of(17, object())
    assert k1 >= KEY_BASE and k2 >= KEY_BASE and k1 != k2
    assert client.key_of(2**31 - 5) == k1 and client.handle_of(k1) == 2**31 - 5
    client.forget_key(17)
    assert client.handle_of(k2) is None and client.object_of(k2) is None


def test_a_reentrant_call_from_a_signal_handler_is_refused_but_post_is_allowed(pair):
    client, peer = pair
    outcome = []

    def on_alarm(signum, frame):
        try:
            client.time_monotonic_ns()
        except RuntimeError as e:
            outcome.append(str(e))
        client.post(spec("ipc_send"), (11, b"", ()))  # wakes the poll this thread is waiting for

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal_this_thread_when(peer.parked_one)  # the signal lands while this thread waits for its parked poll
        ready = client.io_poll([(11, 1)], -1)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert ready == [(11, _abi.EV_READABLE)]
    assert outcome and "signal handler" in outcome[0]
