import errno
import pickle

import pytest

import ukernel
from ukernel import _abi
from ukernel._errors import error_for

# status name -> (class, errno, the builtin OSError subclass asyncio code catches, or None)
EXPECTED = {
    "ERR_UNSUPPORTED": (ukernel.UnsupportedError, errno.ENOSYS, None),
    "ERR_DENIED": (ukernel.DeniedError, errno.EACCES, PermissionError),
    "ERR_BADHANDLE": (ukernel.BadHandleError, errno.EBADF, None),
    "ERR_INVAL": (ukernel.InvalidArgumentError, errno.EINVAL, None),
    "ERR_WOULDBLOCK": (ukernel.WouldBlockError, errno.EAGAIN, BlockingIOError),
    "ERR_INPROGRESS": (ukernel.InProgressError, errno.EINPROGRESS, BlockingIOError),
    "ERR_CLOSED": (ukernel.ClosedError, errno.EPIPE, BrokenPipeError),
    "ERR_LIMIT": (ukernel.LimitError, errno.EDQUOT, None),
    "ERR_NOTFOUND": (ukernel.NotFoundError, errno.ENOENT, FileNotFoundError),
    "ERR_TIMEOUT": (ukernel.TimedOutError, errno.ETIMEDOUT, TimeoutError),
    "ERR_IO": (ukernel.KernelIOError, errno.EIO, None),
    "ERR_REFUSED": (ukernel.RefusedError, errno.ECONNREFUSED, ConnectionRefusedError),
    "ERR_ADDRINUSE": (ukernel.AddrInUseError, errno.EADDRINUSE, None),
    "ERR_TOOBIG": (ukernel.TooBigError, errno.EMSGSIZE, None),
    "ERR_BUSY": (ukernel.BusyError, errno.EBUSY, None),
}


def test_every_status_is_covered():
    assert set(EXPECTED) == set(_abi.STATUS_NAMES.values()) - {"OK"}


@pytest.mark.parametrize("code, name", sorted((c, n) for c, n in _abi.STATUS_NAMES.items() if c != _abi.OK))
def test_status_maps_to_class_errno_and_builtin(code, name):
    cls, err, builtin = EXPECTED[name]
    e = error_for(code, "net_recv", (3, 100))
    assert type(e) is cls
    assert isinstance(e, ukernel.KernelError) and isinstance(e, OSError)
    if builtin is not None:
        assert isinstance(e, builtin)
    assert e.errno == err
    assert e.status == name and e.code == code and e.call == "net_recv"
    assert str(e).startswith("[Errno %d] net_recv: " % err)
    assert cls.__doc__ and name in cls.__doc__  # says when it is raised


def test_asyncio_style_handlers_catch_them():
    with pytest.raises(BlockingIOError):
        raise error_for(_abi.ERR_WOULDBLOCK, "net_recv")
    with pytest.raises(ConnectionRefusedError):
        raise error_for(_abi.ERR_REFUSED, "net_error")
    with pytest.raises(ConnectionError):
        raise error_for(_abi.ERR_REFUSED, "net_error")


def test_denied_names_the_capability():
    e = error_for(_abi.ERR_DENIED, "log_write", (20, b"x"))
    assert isinstance(e, PermissionError) and e.errno == errno.EACCES
    assert e.strerror == ("log_write: denied: needs capability LOG — call ukernel.cap_acquire(ukernel.Cap.LOG); "
                          "the app's ukernel.toml must grant it in [caps] grant")


@pytest.mark.parametrize("call", sorted(n for n, spec in _abi.CALLS.items() if spec[1]))
def test_denied_names_the_capability_of_every_gated_call(call):
    cap = _abi.CAP_NAMES[_abi.CALLS[call][1]]
    message = str(error_for(_abi.ERR_DENIED, call))
    assert "%s: denied: needs capability %s" % (call, cap) in message
    assert "ukernel.Cap.%s" % cap in message


def test_denied_scope_and_acquire_messages():
    assert "net.connect" in str(error_for(_abi.ERR_DENIED, "net_connect"))
    e = error_for(_abi.ERR_DENIED, "cap_acquire", (_abi.CAP_NET | _abi.CAP_IO,))
    assert "NET|IO" in str(e) and "[caps] grant" in str(e)
    assert _abi.ENV_TOKEN in str(error_for(_abi.ERR_DENIED, "hello"))


def test_unknown_status_is_still_an_error():
    e = error_for(4242, "abi_version")
    assert type(e) is ukernel.KernelError
    assert e.code == 4242 and e.status == "ERR_4242" and e.errno == errno.EIO


def test_gone_and_protocol_errors():
    gone = ukernel.KernelGoneError()
    assert isinstance(gone, ConnectionError) and not isinstance(gone, ukernel.KernelError)
    assert "kernel" in str(gone)
    bad = ukernel.ProtocolError("bad tag", seq=3, consumed=20)
    assert isinstance(bad, OSError) and bad.errno == errno.EPROTO and (bad.seq, bad.consumed) == (3, 20)


@pytest.mark.parametrize("e", [
    error_for(_abi.ERR_DENIED, "log_write"),
    error_for(_abi.ERR_WOULDBLOCK, "ipc_recv"),
    error_for(99, "x"),
    ukernel.KernelGoneError("gone", "log_write"),
    ukernel.ProtocolError("bad", 1, 2),
])
def test_errors_pickle(e):
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is type(e) and str(copy) == str(e) and copy.errno == e.errno
