"""The client's framing against a scripted peer on a socketpair (no kernel involved)."""

import os
import signal
import socket
import struct
import threading

import pytest

from ukernel import _abi
from ukernel._client import Client
from ukernel._errors import DeniedError, KernelGoneError, ProtocolError, UnsupportedError
from ukernel._wire import decode_request, encode_reply

TOKEN = bytes(range(16))
NAMES = {spec[0]: name for name, spec in _abi.CALLS.items()}
HANG = 60  # seconds; only bounds a hang, never paces a test


def default_handler(name, values):
    """The scripted kernel: (status, results) for a call, or None to close the connection."""
    if name == "hello":
        return _abi.OK, (42, _abi.VERSION)
    if name == "time_monotonic_ns":
        return _abi.OK, (123,)
    if name == "task_self":
        return _abi.OK, (42, "main".encode())
    if name == "cap_acquire":
        return _abi.OK, (values[0],)
    if name == "cap_query":
        return _abi.OK, (_abi.CAP_LOG, 63)
    if name == "abi_version":
        return _abi.OK, (_abi.VERSION,)
    if name == "task_yield":
        return _abi.OK, ()
    if name == "log_write":
        return _abi.ERR_DENIED, ()
    return _abi.ERR_UNSUPPORTED, ()


class Peer(threading.Thread):
    """The kernel's end: decodes what each recv() brings, records it as one burst, answers every frame."""

    def __init__(self, sock, handler=default_handler):
        super().__init__(daemon=True)
        self.sock = sock
        self.handler = handler
        self.bursts = []  # per recv(): [(seq, call name, values), ...]

    def run(self):
        buf = bytearray()
        with self.sock:
            while True:
                data = self.sock.recv(1 << 20)
                if not data:
                    return
                buf += data
                frames = []
                while True:
                    frame, used = decode_request(buf)
                    if frame is None:
                        break
                    del buf[:used]
                    frames.append((frame[0], NAMES.get(frame[1], frame[1]), frame[2]))
                if not frames:
                    continue
                self.bursts.append(frames)
                out = []
                for seq, name, values in frames:
                    answer = self.handler(name, values)
                    if answer is None:
                        self.sock.sendall(b"".join(out))
                        return
                    out.append(encode_reply(seq, answer[0], answer[1]))
                self.sock.sendall(b"".join(out))


def connect(handler=default_handler):
    a, b = socket.socketpair()
    peer = Peer(b, handler)
    peer.start()
    return Client.from_socket(a, TOKEN), peer


@pytest.fixture
def client():
    c, peer = connect()
    c.peer = peer
    yield c
    c.close()


def test_hello(client):
    assert client.task_id == 42 and client.kernel_abi_version == _abi.VERSION
    assert client.peer.bursts[0] == [(1, "hello", (TOKEN, _abi.VERSION))]


def test_calls_return_none_one_value_or_a_tuple(client):
    assert client.time_monotonic_ns() == 123
    assert client.task_self() == (42, "main")
    assert client.cap_query() == (_abi.CAP_LOG, 63)
    assert client.abi_version() == _abi.VERSION
    assert client.cap_acquire(_abi.CAP_LOG | _abi.CAP_TIME) == 3
    assert client.task_yield() is None
    assert client.call("time_monotonic_ns") == 123
    assert client.call("cap_acquire", 8) == 8
    seqs = [f[0] for burst in client.peer.bursts for f in burst]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_batch_travels_in_one_write(client):
    with client.batch() as b:
        r1 = b.call("time_monotonic_ns")
        r2 = b.cap_acquire(_abi.CAP_NET)
        r3 = b.call("log_write", _abi.LOG_INFO, "hi")
        assert not r1.done()
        with pytest.raises(RuntimeError, match="not been sent"):
            r1.result()
    burst = client.peer.bursts[-1]
    assert [name for _, name, _ in burst] == ["time_monotonic_ns", "cap_acquire", "log_write"]
    seqs = [seq for seq, _, _ in burst]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert r1.result() == 123 and r2.result() == _abi.CAP_NET
    with pytest.raises(DeniedError, match="needs capability LOG"):
        r3.result()
    assert isinstance(r3.exception(), PermissionError) and r1.exception() is None
    assert client.time_monotonic_ns() == 123  # the stream is still in step


def test_batch_not_sent_when_its_block_raises(client):
    with pytest.raises(KeyError):
        with client.batch() as b:
            r = b.call("time_monotonic_ns")
            raise KeyError("boom")
    with pytest.raises(RuntimeError, match="not sent"):
        r.result()
    assert len(client.peer.bursts) == 1  # only hello


def test_error_reply_raises_the_mapped_exception(client):
    with pytest.raises(DeniedError) as e:
        client.log_write(_abi.LOG_INFO, "hello")
    assert isinstance(e.value, PermissionError) and e.value.call == "log_write"
    assert "needs capability LOG" in str(e.value) and "ukernel.Cap.LOG" in str(e.value)
    with pytest.raises(UnsupportedError):
        client.call("ipc_channel_create")
    assert client.time_monotonic_ns() == 123


def test_closed_peer_raises_kernel_gone():
    c, _ = connect(lambda name, values: None if name == "time_monotonic_ns" else default_handler(name, values))
    with pytest.raises(KernelGoneError, match="closed the connection"):
        c.time_monotonic_ns()
    assert c.closed
    with pytest.raises(KernelGoneError):
        c.task_yield()


def test_wrong_arguments_raise_type_error_before_sending(client):
    with pytest.raises(TypeError, match="log_write: argument 1"):
        client.call("log_write", "x", "y")
    with pytest.raises(TypeError, match=r"log_write\(I64, BYTES\) takes 2 arguments, got 1"):
        client.call("log_write", 20)
    with pytest.raises(TypeError, match="cap_acquire: argument 1 must be an int"):
        client.cap_acquire("LOG")
    with pytest.raises(TypeError):
        client.log_write(20, 5)
    with pytest.raises(ValueError, match="unknown kernel call"):
        client.call("no_such_call")
    with pytest.raises(TypeError):
        with client.batch() as b:
            b.call("cap_drop", b"x")
    assert len(client.peer.bursts) == 1  # nothing but hello went out
    assert client.time_monotonic_ns() == 123
    assert len(client.peer.bursts[-1]) == 1


def test_large_reply_grows_the_buffer():
    big = os.urandom(600_000)
    c, _ = connect(lambda name, values: (_abi.OK, (big,)) if name == "io_read" else default_handler(name, values))
    assert c.call("io_read", 3, len(big)) == big
    assert c.time_monotonic_ns() == 123


class TricklingSocket:
    """The client's socket, as the client sees it, when the host hands over a few bytes per read: every reply is
    reassembled from many reads, whatever the timing of the peer's writes."""

    def __init__(self, sock, most=7):
        self._sock = sock
        self._most = most

    def recv_into(self, buf, nbytes=0, *flags):
        return self._sock.recv_into(memoryview(buf)[:self._most], 0, *flags)

    def recvmsg_into(self, buffers, *args):
        return self._sock.recvmsg_into([memoryview(buffers[0])[:self._most]], *args)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def scripted(script, wrap=lambda sock: sock):
    """A client whose peer runs `script(sock)` after answering hello."""
    a, b = socket.socketpair()

    def run():
        with b:
            frame, _ = decode_request(b.recv(4096))
            b.sendall(encode_reply(frame[0], _abi.OK, (1, _abi.VERSION)))
            script(b)

    threading.Thread(target=run, daemon=True).start()
    return Client.from_socket(wrap(a), TOKEN)


def next_seq(sock):
    return decode_request(sock.recv(4096))[0][0]


def test_reply_split_across_writes_and_two_replies_in_one_write():
    def script(sock):
        reply = encode_reply(next_seq(sock), _abi.OK, (b"split" * 100,))
        for i in range(0, len(reply), 7):
            sock.sendall(reply[i:i + 7])
        seqs = []
        while len(seqs) < 2:  # the second reply is sent with the first, before its request
            seqs.append(next_seq(sock) if not seqs else seqs[0] + 1)
        sock.sendall(encode_reply(seqs[0], _abi.OK, (1,)) + encode_reply(seqs[1], _abi.OK, (2,)))
        sock.recv(4096)

    c = scripted(script, TricklingSocket)  # the client reads 7 bytes at a time: frames arrive in pieces
    assert c.call("net_recv", 1, 500) == b"split" * 100
    assert c.call("cap_acquire", 0) == 1
    assert c.call("cap_acquire", 0) == 2  # already buffered


def test_reply_with_an_unknown_seq_is_a_protocol_error():
    def script(sock):
        sock.sendall(encode_reply(next_seq(sock) + 100, _abi.OK, (1,)))
        sock.recv(4096)

    c = scripted(script)
    with pytest.raises(ProtocolError, match="no pending request"):
        c.time_monotonic_ns()
    with pytest.raises(KernelGoneError):
        c.time_monotonic_ns()


def test_malformed_reply_is_a_protocol_error():
    def script(sock):
        sock.sendall(struct.pack("<IIHH", 9, next_seq(sock), 0, 1) + b"\x07")
        sock.recv(4096)

    c = scripted(script)
    with pytest.raises(ProtocolError, match="unknown tag 7"):
        c.time_monotonic_ns()
    assert c.closed


def test_wrong_result_types_are_a_protocol_error():
    c, _ = connect(lambda name, values: (_abi.OK, (b"x",)) if name == "abi_version" else default_handler(name, values))
    with pytest.raises(ProtocolError, match="abi_version"):
        c.abi_version()


def test_hello_denied_and_wrong_major():
    a, b = socket.socketpair()
    Peer(b, lambda name, values: (_abi.ERR_DENIED, ())).start()
    with pytest.raises(DeniedError, match="UKERNEL_TOKEN"):
        Client.from_socket(a, TOKEN)
    a, b = socket.socketpair()
    Peer(b, lambda name, values: (_abi.OK, (1, (_abi.VERSION_MAJOR + 1) << 16))).start()
    with pytest.raises(ProtocolError, match="ABI 2.0"):
        Client.from_socket(a, TOKEN)
    with pytest.raises(ValueError, match="32 hex"):
        Client.from_socket(socket.socketpair()[0], "abc")


def test_interrupted_call_drops_its_late_reply():
    """A signal handler raising during a call must not leave its reply to be taken for the next call's."""

    class Interrupted(Exception):
        pass

    caller = threading.get_ident()

    def script(sock):
        first = next_seq(sock)
        signal.pthread_kill(caller, signal.SIGALRM)  # the caller gives up while it waits for this reply
        second = next_seq(sock)  # its next call: only then does the first reply come, late
        sock.sendall(encode_reply(first, _abi.OK, (111,)) + encode_reply(second, _abi.OK, (222,)))
        sock.recv(4096)

    def on_alarm(signum, frame):
        raise Interrupted()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        c = scripted(script)
        with pytest.raises(Interrupted):
            c.call("cap_acquire", 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert c.call("cap_acquire", 0) == 222


def test_calls_from_many_threads(client):
    errors = []

    def worker(mask):
        try:
            for _ in range(200):
                assert client.cap_acquire(mask) == mask
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(1 << i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_connect_reads_and_scrubs_the_environment(monkeypatch):
    from _fake_kernel import FakeKernel

    with FakeKernel(task_id=9) as kernel:
        monkeypatch.setenv(_abi.ENV_ENDPOINT, kernel.path)
        monkeypatch.setenv(_abi.ENV_TOKEN, kernel.token.hex())
        with Client.connect() as c:
            assert c.task_id == 9
            assert _abi.ENV_ENDPOINT not in os.environ and _abi.ENV_TOKEN not in os.environ
            assert c.task_self() == (9, "main")
        with pytest.raises(KernelGoneError, match="UKERNEL_ENDPOINT is not set"):
            Client.connect()
        with pytest.raises(KernelGoneError, match="cannot connect"):
            Client.connect(kernel.path + ".missing", kernel.token)
        with pytest.raises(DeniedError):
            Client.connect(kernel.path, os.urandom(16))


def test_batch_with_replies_larger_than_the_buffer():
    payloads = {}

    def handler(name, values):
        if name == "io_read":
            return _abi.OK, (payloads.setdefault(values[0], os.urandom(values[1])),)
        return default_handler(name, values)

    c, peer = connect(handler)
    with c.batch() as b:
        results = [b.io_read(i, 5000 + i) for i in range(60)]  # ~300 KB of replies, read through a 64 KiB buffer
    assert [r.result() for r in results] == [payloads[i] for i in range(60)]
    assert len(peer.bursts[-1]) == 60


def test_call_from_a_signal_handler_during_a_call_does_not_deadlock():
    inner = []
    handled = threading.Event()
    caller = threading.get_ident()

    def script(sock):
        first = next_seq(sock)
        signal.pthread_kill(caller, signal.SIGALRM)  # lands while the caller waits for this reply
        handled.wait(HANG)  # answered only once the handler has run inside the call
        sock.sendall(encode_reply(first, _abi.OK, (1,)))
        second = next_seq(sock)
        sock.sendall(encode_reply(second, _abi.OK, (2,)))
        sock.recv(4096)

    def on_alarm(signum, frame):
        try:
            c.task_yield()
        except RuntimeError as e:
            inner.append(e)
        handled.set()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        c = scripted(script)
        assert c.call("cap_acquire", 0) == 1
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert inner and "signal handler or finalizer" in str(inner[0])
    assert c.call("cap_acquire", 0) == 2


# -- ABI 1.1: descriptors that travel with granted replies ---------------------------------------------------------

def send_with_fd(sock, data, fd):
    sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))])


def test_a_granted_reply_takes_the_descriptor_sent_with_it():
    def script(sock):
        seq = next_seq(sock)
        r, w = os.pipe()
        os.write(w, b"through the descriptor")
        os.close(w)
        send_with_fd(sock, encode_reply(seq, _abi.OK | _abi.REPLY_GRANTED, (7, b"127.0.0.1", 5000)), r)
        os.close(r)
        sock.recv(4096)

    c = scripted(script, TricklingSocket)  # the descriptor comes with the first of many reads
    seq = c.submit([(c_spec("net_accept"), (1,))])[0]
    reply = c.collect(seq)
    assert reply[:3] == (seq, _abi.OK, (7, b"127.0.0.1", 5000))
    fd = reply[3]
    try:
        assert os.read(fd, 100) == b"through the descriptor"
    finally:
        os.close(fd)


def test_a_descriptor_without_a_granted_reply_is_closed():
    r, w = os.pipe()

    def script(sock):
        send_with_fd(sock, encode_reply(next_seq(sock), _abi.OK, (1,)), r)
        os.close(r)
        sock.recv(4096)

    c = scripted(script)
    assert c.call("cap_acquire", 0) == 1
    # The client closed the copy it was sent: with the script's closed too, the pipe has no reader left.
    with pytest.raises(BrokenPipeError):
        os.write(w, b"x")
    os.close(w)


def test_a_granted_reply_without_a_descriptor_is_a_protocol_error():
    def script(sock):
        sock.sendall(encode_reply(next_seq(sock), _abi.OK | _abi.REPLY_GRANTED, (1,)))
        sock.recv(4096)

    c = scripted(script)
    with pytest.raises(ProtocolError, match="no descriptor"):
        c.call("cap_acquire", 0)


def c_spec(name):
    from ukernel._calls import spec
    return spec(name)
