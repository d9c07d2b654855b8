"""The typed calls (task, ipc, net, io, poll), the module-level functions and the object layer, against the
scripted socketpair peer of test_client: the right call number, argument types, result decoding, error mapping."""

import errno
import socket

import pytest
from test_client import TOKEN, Peer, default_handler

import ukernel
from ukernel import _abi
from ukernel._client import MAX_RECV_BYTES, MAX_SEND_BYTES, Client
from ukernel._wire import TAG_BYTES, TAG_I64, TAG_I64S

OK = _abi.OK


class Script:
    """The peer's answers by call name (a (status, results) pair, or a function of the values), and a log."""

    def __init__(self, **answers):
        self.answers = answers
        self.active = 63

    def __call__(self, name, values):
        if name == "cap_query":
            return OK, (self.active, 63)
        answer = self.answers.get(name)
        if answer is None:
            if name in _abi.CALLS and not _abi.CALLS[name][3] and name != "log_write":
                return OK, ()  # calls without results succeed unless scripted otherwise
            return default_handler(name, values)
        return answer(values) if callable(answer) else answer


def connect(**answers):
    script = Script(**answers)
    a, b = socket.socketpair()
    peer = Peer(b, script)
    peer.start()
    c = Client.from_socket(a, TOKEN)
    c.peer = peer
    c.script = script
    return c


def frames(c):
    """Every request after hello: [(call name, values), ...]."""
    return [(name, values) for burst in c.peer.bursts for _, name, values in burst][1:]


def last(c):
    return frames(c)[-1]


# call, arguments, the request's values, the scripted reply values, the decoded result
CASES = [
    ("handle_close", (5,), (5,), (), None),
    ("task_spawn", ("consumer", 9, [3, 4]), (b"consumer", 9, (3, 4)), (7,), 7),
    ("task_spawn", (b"w", 1), (b"w", 1, ()), (2,), 2),
    ("task_status", (7,), (7,), (_abi.TASK_EXITED, 3), (_abi.TASK_EXITED, 3)),
    ("ipc_channel_create", (), (), (1, 2), (1, 2)),
    ("ipc_send", (1, b"hi", [2]), (1, b"hi", (2,)), (), None),
    ("ipc_send", (1, "h\u00e9"), (1, "h\u00e9".encode(), ()), (), None),
    ("ipc_recv", (1,), (1,), (b"msg", (4, 5)), (b"msg", [4, 5])),
    ("ipc_close", (1,), (1,), (), None),
    ("ipc_send_many", (1, [b"ab", b"c"]), (1, b"abc", (2, 1), (), ()), (2,), 2),
    ("ipc_send_many", (1, [b"ab", (b"c", [7])]), (1, b"abc", (2, 1), (0, 1), (7,)), (1,), 1),
    ("ipc_recv_many", (1,), (1, _abi.MAX_BATCH_MSGS, _abi.MAX_BATCH_BYTES), (b"abc", (2, 1), (), ()),
     [(b"ab", []), (b"c", [])]),
    ("ipc_recv_many", (1, 5, 10), (1, 5, 10), (b"abc", (2, 1), (0, 1), (9,)), [(b"ab", []), (b"c", [9])]),
    ("net_socket", (), (_abi.NET_AF_INET, _abi.NET_SOCK_STREAM), (3,), 3),
    ("net_socket", (socket.AF_INET6,), (_abi.NET_AF_INET6, _abi.NET_SOCK_STREAM), (3,), 3),
    ("net_socket", (_abi.NET_AF_INET6, _abi.NET_SOCK_STREAM), (6, 1), (3,), 3),
    ("net_bind", (3, "127.0.0.1", 0), (3, b"127.0.0.1", 0), (), None),
    ("net_listen", (3, 16), (3, 16), (), None),
    ("net_listen", (3,), (3, 0), (), None),
    ("net_accept", (3,), (3,), (4, b"127.0.0.1", 40000), (4, "127.0.0.1", 40000)),
    ("net_connect", (4, "localhost", 8080), (4, b"localhost", 8080), (), None),
    ("net_send", (4, b"abc"), (4, b"abc"), (3,), 3),
    ("net_send", (4, bytearray(b"x")), (4, b"x"), (1,), 1),
    ("net_recv", (4, 100), (4, 100), (b"data",), b"data"),
    ("net_recv", (4, 100), (4, 100), (b"",), b""),
    ("net_shutdown", (4, _abi.NET_SHUT_WR), (4, 2), (), None),
    ("net_close", (4,), (4,), (), None),
    ("net_addr", (3,), (3, _abi.NET_ADDR_LOCAL), (b"::1", 5000), ("::1", 5000)),
    ("net_addr", (3, _abi.NET_ADDR_PEER), (3, 1), (b"10.0.0.1", 80), ("10.0.0.1", 80)),
    ("net_error", (4,), (4,), (_abi.ERR_REFUSED,), _abi.ERR_REFUSED),
    ("io_open", ("data", "a/b.txt"), (b"data", b"a/b.txt", _abi.OPEN_READ), (6,), 6),
    ("io_open", ("data", "n", 7), (b"data", b"n", 7), (6,), 6),
    ("io_read", (6, 10), (6, 10), (b"0123456789",), b"0123456789"),
    ("io_write", (6, b"xyz"), (6, b"xyz"), (3,), 3),
    ("io_seek", (6, 5), (6, 5, _abi.SEEK_SET), (5,), 5),
    ("io_seek", (6, -1, _abi.SEEK_END), (6, -1, 2), (9,), 9),
    ("io_stat", (6,), (6,), (10, 1_700_000_000_000_000_000, _abi.STAT_FILE),
     (10, 1_700_000_000_000_000_000, _abi.STAT_FILE)),
    ("io_close", (6,), (6,), (), None),
    ("io_poll", ([(1, 1), (3, 2)], 0), ((1, 1, 3, 2), 0), ((1, 1, 3, 6),), [(1, 1), (3, 6)]),
    ("io_poll", ([(1, 1)],), ((1, 1), -1), ((1, 4),), [(1, 4)]),
    ("io_poll", ({5: 3}, 1000), ((5, 3), 1000), ((),), []),
    ("io_poll", ([], 10), ((), 10), ((),), []),
]


@pytest.mark.parametrize("name, args, sent, reply, expected", CASES,
                         ids=["%s-%d" % (c[0], i) for i, c in enumerate(CASES)])
def test_typed_call_wire_and_result(name, args, sent, reply, expected):
    c = connect(**{name: (OK, reply)})
    try:
        assert getattr(c, name)(*args) == expected
        assert last(c) == (name, sent)
        number, _cap, argtags, _restags, _reserved = _abi.CALLS[name]
        assert number == getattr(_abi, "CALL_" + name.upper())
        python_types = {TAG_I64: int, TAG_BYTES: bytes, TAG_I64S: tuple}
        assert tuple(type(v) for v in last(c)[1]) == tuple(python_types[t] for t in argtags)
    finally:
        c.close()


def test_every_call_has_a_typed_method():
    for name in _abi.CALLS:
        if name == "hello":  # the handshake
            continue
        assert callable(getattr(Client, name, None)), name
        if name not in ("log_write", "sandbox_notify"):  # sandbox_notify: the loader's, once, before the app
            assert callable(getattr(ukernel, name, None)), name


def test_wrong_argument_types_raise_before_sending():
    c = connect()
    with pytest.raises(TypeError, match="ipc_send: argument 2"):
        c.ipc_send(1, 5)
    with pytest.raises(TypeError, match="task_spawn: argument 3 must be a list of ints"):
        c.task_spawn("w", 1, ["x"])
    with pytest.raises(TypeError, match="net_connect: argument 2"):
        c.net_connect(1, 127, 80)
    with pytest.raises(TypeError):
        c.io_poll([(1, "r")], 0)
    with pytest.raises(ValueError):
        c.io_poll([(1, 2, 3)], 0)  # not a (handle, interest) pair
    assert frames(c) == []
    c.close()


def test_results_of_the_wrong_shape_are_a_protocol_error():
    c = connect(ipc_recv=(OK, (b"x",)), net_accept=(OK, (4, 5, 6)))
    with pytest.raises(ukernel.ProtocolError, match="ipc_recv"):
        c.ipc_recv(1)
    c = connect(net_accept=(OK, (4, 5, 6)))
    with pytest.raises(ukernel.ProtocolError, match="net_accept"):
        c.net_accept(1)


def test_send_and_receive_sizes_are_clamped_to_one_frame():
    c = connect(net_send=lambda v: (OK, (len(v[1]),)), io_write=lambda v: (OK, (len(v[1]),)),
                net_recv=(OK, (b"",)), io_read=(OK, (b"",)))
    big = b"\xab" * (MAX_SEND_BYTES + 1000)
    assert c.net_send(4, big) == MAX_SEND_BYTES
    assert c.io_write(6, memoryview(big)) == MAX_SEND_BYTES
    assert c.net_send(4, "\u00e9" * (MAX_SEND_BYTES // 2 + 5)) == MAX_SEND_BYTES
    assert c.net_send(4, b"") == 0
    c.net_recv(4, 1 << 40)
    assert last(c) == ("net_recv", (4, MAX_RECV_BYTES))
    c.io_read(6, 1 << 40)
    assert last(c) == ("io_read", (6, MAX_RECV_BYTES))
    assert MAX_SEND_BYTES == 1_048_554 and MAX_RECV_BYTES == 1_048_563  # docs/kernel-abi.md §2.2
    c.close()


# -- error mapping -----------------------------------------------------------------------------------------------

def test_connect_in_progress_is_a_blocking_io_error_with_einprogress():
    c = connect(net_connect=(_abi.ERR_INPROGRESS, ()))
    with pytest.raises(BlockingIOError) as e:
        c.net_connect(4, "127.0.0.1", 8080)
    assert isinstance(e.value, ukernel.InProgressError) and e.value.errno == errno.EINPROGRESS
    assert "127.0.0.1:8080" in str(e.value)
    assert [n for n, _ in frames(c)] == ["net_connect"]  # no extra call on the connect path
    c.close()


@pytest.mark.parametrize("status, cls, builtin", [
    (_abi.ERR_REFUSED, ukernel.RefusedError, ConnectionRefusedError),
    (_abi.ERR_ADDRINUSE, ukernel.AddrInUseError, OSError),
    (_abi.ERR_INVAL, ukernel.InvalidArgumentError, OSError),
])
def test_net_errors_name_the_address(status, cls, builtin):
    c = connect(net_connect=(status, ()), net_bind=(status, ()))
    with pytest.raises(cls) as e:
        c.net_connect(4, "::1", 9)
    assert isinstance(e.value, builtin) and "net_connect [::1]:9:" in str(e.value)
    with pytest.raises(cls, match=r"net_bind \*:80:"):
        c.net_bind(3, "", 80)
    c.close()


def test_connect_denied_by_the_allow_list_names_the_address_and_the_rule():
    c = connect(net_connect=(_abi.ERR_DENIED, ()))
    with pytest.raises(PermissionError) as e:
        c.net_connect(4, "10.1.2.3", 443)
    message = str(e.value)
    assert isinstance(e.value, ukernel.DeniedError) and e.value.call == "net_connect"
    assert "10.1.2.3:443" in message and "[caps.net]" in message and 'connect = ["10.1.2.3:443"]' in message
    assert "cap_acquire" not in message  # NET is held: the allow-list is the only cause
    assert [n for n, _ in frames(c)] == ["net_connect", "cap_query"]
    c.close()


def test_bind_denied_names_the_address_and_the_rule():
    c = connect(net_bind=(_abi.ERR_DENIED, ()))
    with pytest.raises(PermissionError, match=r'net_bind \[::1\]:0: .*\[caps.net\].*bind = \["\[::1\]:0"\]'):
        c.net_bind(3, b"::1", 0)
    c.close()


def test_net_denied_without_the_capability_says_to_acquire_it():
    c = connect(net_connect=(_abi.ERR_DENIED, ()))
    c.script.active = _abi.CAP_LOG
    with pytest.raises(PermissionError) as e:
        c.net_connect(4, "10.1.2.3", 443)
    assert "needs capability NET" in str(e.value) and "ukernel.Cap.NET" in str(e.value)
    assert "10.1.2.3:443" in str(e.value)
    c.close()


def test_denied_in_a_batch_names_both_causes():
    c = connect(net_connect=(_abi.ERR_DENIED, ()))
    with c.batch() as b:
        r = b.net_connect(4, "10.1.2.3", 443)
    message = str(r.exception())
    assert '"10.1.2.3:443"' in message and "ukernel.Cap.NET" in message
    c.close()


@pytest.mark.parametrize("path, flags, words", [
    ("../etc/passwd", 1, 'without ".." components'),
    ("/etc/passwd", 1, 'without ".." components'),
    ("a/../../x", 1, 'without ".." components'),
    ("link", 1, "symbolic link"),
    ("out.txt", _abi.OPEN_WRITE | _abi.OPEN_CREATE, 'read-only (mode = "ro" in [caps.io])'),
])
def test_io_open_denied_says_why(path, flags, words):
    c = connect(io_open=(_abi.ERR_DENIED, ()))
    with pytest.raises(PermissionError) as e:
        c.io_open("data", path, flags)
    assert words in str(e.value) and '"%s" in preopen "data"' % path in str(e.value)
    if flags == 1 and ".." not in path and not path.startswith("/"):
        assert "read-only" not in str(e.value)
    c.close()


def test_io_open_not_found_names_the_path():
    c = connect(io_open=(_abi.ERR_NOTFOUND, ()))
    with pytest.raises(FileNotFoundError, match='io_open "x" in preopen "nope": not found'):
        c.io_open("nope", "x")
    c.close()


@pytest.mark.parametrize("status, cls, builtin", [
    (_abi.ERR_WOULDBLOCK, ukernel.WouldBlockError, BlockingIOError),
    (_abi.ERR_CLOSED, ukernel.ClosedError, BrokenPipeError),
    (_abi.ERR_LIMIT, ukernel.LimitError, OSError),
    (_abi.ERR_BADHANDLE, ukernel.BadHandleError, OSError),
])
def test_ipc_errors(status, cls, builtin):
    c = connect(ipc_recv=(status, ()), ipc_send=(status, ()), ipc_channel_create=(status, ()))
    for call, args in (("ipc_recv", (1,)), ("ipc_send", (1, b"x")), ("ipc_channel_create", ())):
        with pytest.raises(cls) as e:
            getattr(c, call)(*args)
        assert isinstance(e.value, builtin) and e.value.call == call
    c.close()


def test_unsupported_call():
    c = connect(net_socket=(_abi.ERR_UNSUPPORTED, ()))
    with pytest.raises(ukernel.UnsupportedError) as e:
        c.net_socket()
    assert e.value.errno == errno.ENOSYS
    c.close()


# -- module-level functions --------------------------------------------------------------------------------------

@pytest.fixture
def default(monkeypatch):
    c = connect(task_spawn=(OK, (9,)), io_poll=lambda v: (OK, (v[0],)))
    monkeypatch.setattr(ukernel, "_default", c)
    yield c
    c.close()


def test_module_functions_use_the_default_client(default):
    assert ukernel.task_spawn("w", "LOG|IPC", [1]) == 9
    assert last(default) == ("task_spawn", (b"w", _abi.CAP_LOG | _abi.CAP_IPC, (1,)))
    assert ukernel.task_spawn("w", ukernel.Cap.IPC) == 9
    assert last(default) == ("task_spawn", (b"w", _abi.CAP_IPC, ()))
    assert ukernel.io_poll([(1, ukernel.EV_READABLE)], 5) == [(1, 1)]
    assert last(default) == ("io_poll", ((1, 1), 5))
    assert ukernel.poll([(2, 3)], 0.25) == [(2, 3)]
    assert last(default) == ("io_poll", ((2, 3), 250_000_000))
    ukernel.poll([(2, 3)])
    assert last(default)[1][1] == -1
    ukernel.poll([(2, 3)], -1)
    assert last(default)[1][1] == 0
    ukernel.handle_close(4)
    assert last(default) == ("handle_close", (4,))


def test_constants_and_enums():
    assert ukernel.Event.READABLE == ukernel.EV_READABLE == 1
    assert [e.name for e in ukernel.Event] == ["READABLE", "WRITABLE", "HANGUP", "ERROR"]
    assert ukernel.OpenFlag.READ | ukernel.OpenFlag.WRITE | ukernel.OpenFlag.CREATE == 7
    assert [f.name for f in ukernel.OpenFlag] == ["READ", "WRITE", "CREATE", "TRUNCATE", "APPEND", "EXCLUSIVE"]
    assert ukernel.Whence.END == ukernel.SEEK_END == 2
    assert ukernel.TaskState(1).name == "EXITED" and ukernel.StatKind(2).name == "DIRECTORY"
    assert ukernel.AF_INET == _abi.NET_AF_INET and ukernel.SOCK_STREAM == _abi.NET_SOCK_STREAM
    assert ukernel.NET_SHUT_WR == 2 and ukernel.NET_ADDR_PEER == 1


# -- objects -----------------------------------------------------------------------------------------------------

def test_channel_pair_send_moves_handles_and_recv():
    c = connect(ipc_channel_create=(OK, (1, 2)), ipc_recv=(OK, (b"m", (3,))))
    a, b = ukernel.Channel.pair(c)
    assert (a.handle, b.handle) == (1, 2) and a.client is c and repr(a) == "<ukernel.Channel handle 1>"
    other = ukernel.Channel(7, c)
    a.send(b"payload", [other, 8])
    assert last(c) == ("ipc_send", (1, b"payload", (7, 8)))
    assert other.closed and other.handle is None and repr(other) == "<ukernel.Channel closed>"
    with pytest.raises(ValueError, match="closed"):
        other.send(b"x")
    assert b.recv() == (b"m", [3])
    assert last(c) == ("ipc_recv", (2,))
    with a:
        pass
    assert a.closed and last(c) == ("handle_close", (1,))
    a.close()  # again: nothing sent
    assert last(c) == ("handle_close", (1,))
    assert b.detach() == 2 and b.closed
    c.close()


def test_channel_send_failure_keeps_ownership():
    c = connect(ipc_send=(_abi.ERR_WOULDBLOCK, ()))
    a, moved = ukernel.Channel(1, c), ukernel.Channel(2, c)
    with pytest.raises(BlockingIOError):
        a.send(b"x", [moved])
    assert moved.handle == 2
    c.close()


def test_channel_wait():
    c = connect(io_poll=lambda v: (OK, ((v[0][0], 5),) if v[1] != 0 else ((),)))
    ch = ukernel.Channel(3, c)
    assert ch.wait() == 5 and last(c) == ("io_poll", ((3, 1), -1))
    assert ch.wait(ukernel.EV_WRITABLE, timeout=0) == 0 and last(c) == ("io_poll", ((3, 2), 0))
    assert ch.wait(timeout=0.001) == 5 and last(c) == ("io_poll", ((3, 1), 1_000_000))
    c.close()


def test_task_spawn_status_wait():
    exited = {"now": False}

    def status(values):
        return OK, ((_abi.TASK_EXITED, 4) if exited["now"] else (_abi.TASK_RUNNING, 0))

    c = connect(task_spawn=(OK, (5,)), task_status=status,
                io_poll=lambda v: (OK, ((5, 1),) if exited["now"] else ((),)))
    end = ukernel.Channel(2, c)
    t = ukernel.Task.spawn("consumer", "LOG|IPC", [end], client=c)
    assert last(c) == ("task_spawn", (b"consumer", _abi.CAP_LOG | _abi.CAP_IPC, (2,)))
    assert end.closed and t.handle == 5
    assert t.status() == (_abi.TASK_RUNNING, 0) and t.exit_code is None
    assert t.wait(timeout=0) is None and last(c) == ("io_poll", ((5, 1), 0))
    exited["now"] = True
    assert t.wait() == 4 and t.status() == (_abi.TASK_EXITED, 4)
    with t:
        pass
    assert t.closed and last(c) == ("handle_close", (5,))
    with pytest.raises(ValueError, match="task handle is closed"):
        t.status()
    c.close()


def test_task_spawn_failure_keeps_the_handles():
    c = connect(task_spawn=(_abi.ERR_NOTFOUND, ()))
    end = ukernel.Channel(2, c)
    with pytest.raises(ukernel.NotFoundError):
        ukernel.Task.spawn("nope", 0, [end], client=c)
    assert end.handle == 2
    c.close()


def test_objects_fileno_is_a_kernel_key_and_foreign_handles_are_refused():
    from ukernel._client import KEY_BASE

    c = connect()
    key = ukernel.Channel(7, c).fileno()  # a key for the kernel event loop's selector, never a host fd
    assert key >= KEY_BASE and c.handle_of(key) == 7 and ukernel.Task(7, c).fileno() == key
    with pytest.raises(TypeError, match="a handle is an int, a Channel or a Task"):
        ukernel.Channel(1, c).send(b"x", ["2"])
    assert frames(c) == []
    c.close()


@pytest.mark.parametrize("version, sent, received", [
    (0x10002, "ipc_send", "ipc_recv"),        # a kernel before 1.3: one call per message, as before
    (0x10003, "ipc_send_many", "ipc_recv_many"),
])
def test_aio_channel_uses_runs_only_on_a_kernel_that_has_them(version, sent, received):
    import asyncio

    import ukernel.aio as aio

    c = connect(ipc_recv=(OK, (b"one", ())), ipc_recv_many=(OK, (b"onetwo", (3, 3), (), ())),
                ipc_send_many=lambda values: (OK, (len(values[2]),)))
    c.kernel_abi_version = version
    ch = aio.Channel(5, c)

    async def main():
        await ch.send(b"x")
        await ch.send(b"y")
        await ch.drain()
        first = await ch.recv()
        return first

    assert asyncio.run(main()) == (b"one", [])
    names = [name for name, _ in frames(c) if name.startswith("ipc_")]
    assert names[-1] == received and sent in names, names
    if sent == "ipc_send_many":
        assert names.count("ipc_send_many") == 1, names  # both sends in one run
        assert [v for n, v in frames(c) if n == "ipc_send_many"][0][1:3] == (b"xy", (1, 1))
        assert ch.sync.recv() == (b"two", [])  # the rest of the run waits in this process
    c.close()
