"""The public module API (default client, caps, log helpers, LogHandler) against the fake kernel."""

import logging

import pytest
from _fake_kernel import FakeKernel

import ukernel
from ukernel import _abi


@pytest.fixture
def kernel(monkeypatch):
    with FakeKernel(task_id=5, task_name="worker", ceiling=_abi.CAP_LOG | _abi.CAP_TIME) as k:
        monkeypatch.setenv(_abi.ENV_ENDPOINT, k.path)
        monkeypatch.setenv(_abi.ENV_TOKEN, k.token.hex())
        monkeypatch.setattr(ukernel, "_default", None)
        yield k
        if ukernel._default is not None:
            ukernel._default.close()


def test_public_names_resolve():
    for name in ukernel.__all__:
        assert getattr(ukernel, name) is not None, name
    assert ukernel.__version__ == "0.1.0"
    assert set(ukernel.__all__) <= set(dir(ukernel))


def test_enums():
    assert [c.name for c in ukernel.Cap] == list(_abi.CAP_NAMES.values())
    assert ukernel.Cap.LOG | ukernel.Cap.NET == _abi.CAP_LOG | _abi.CAP_NET
    assert ukernel.Status.ERR_DENIED == _abi.ERR_DENIED and ukernel.Status(0).name == "OK"
    assert ukernel.LogLevel.WARN == logging.WARNING == ukernel.LogLevel.WARNING
    assert ukernel.LogLevel.ERROR == logging.ERROR and ukernel.LogLevel.DEBUG == logging.DEBUG


def test_default_client_connects_lazily(kernel):
    assert ukernel._default is None
    c = ukernel.client()
    assert c is ukernel.client() and c.task_id == 5
    assert ukernel.task_self() == (5, "worker")
    assert ukernel.abi_version() == _abi.VERSION


def test_caps_by_flag_or_name(kernel):
    assert ukernel.cap_query() == (ukernel.Cap(0), ukernel.Cap.LOG | ukernel.Cap.TIME)
    assert ukernel.cap_acquire("log") == ukernel.Cap.LOG
    assert ukernel.cap_acquire(ukernel.Cap.TIME, "LOG") == ukernel.Cap.LOG | ukernel.Cap.TIME
    assert isinstance(ukernel.cap_query()[0], ukernel.Cap)
    with pytest.raises(ukernel.DeniedError, match="NET is beyond"):
        ukernel.cap_acquire("NET")
    with pytest.raises(ValueError, match="unknown capability 'NOPE'"):
        ukernel.cap_acquire("NOPE")


def test_log_needs_the_cap_and_names_it(kernel):
    with pytest.raises(PermissionError, match=r"needs capability LOG — call ukernel.cap_acquire\(ukernel.Cap.LOG\)"):
        ukernel.info("x")
    ukernel.cap_acquire(ukernel.Cap.LOG)
    ukernel.log("plain")
    ukernel.debug("d")
    ukernel.warn("w")
    ukernel.error(b"bytes")
    ukernel.log("crit", logging.CRITICAL)
    ukernel.log("named", "warning")
    assert kernel.logs == [(20, "plain"), (10, "d"), (30, "w"), (40, "bytes"), (40, "crit"), (30, "named")]


def test_long_log_message_is_split_in_one_batch(kernel):
    ukernel.cap_acquire("LOG")
    line = "\u00e9" * (_abi.MAX_LOG_BYTES // 2) + "tail"  # over the limit, and never cut inside a character
    ukernel.info(line)
    assert "".join(text for _, text in kernel.logs) == line
    assert all(len(text.encode()) <= _abi.MAX_LOG_BYTES for _, text in kernel.logs)


def test_log_handler(kernel):
    ukernel.cap_acquire("LOG")
    logger = logging.getLogger("ukernel-test")
    logger.propagate = False
    handler = ukernel.LogHandler()
    logger.addHandler(handler)
    try:
        logger.setLevel(logging.DEBUG)
        logger.info("hello %s", "world")
        logger.critical("bad")
        logger.debug("dbg")
        logger.warning("two\nlines\r\n")
    finally:
        logger.removeHandler(handler)
    assert kernel.logs == [(20, "hello world"), (40, "bad"), (10, "dbg"), (30, "two"), (30, "lines")]


def test_task_exit_raises_system_exit(kernel):
    with pytest.raises(SystemExit) as e:
        ukernel.task_exit(4)
    assert e.value.code == 4 and kernel.exit_codes == [4]
    with pytest.raises(ukernel.KernelGoneError):
        ukernel.task_yield()


def test_no_kernel(monkeypatch):
    monkeypatch.delenv(_abi.ENV_ENDPOINT, raising=False)
    monkeypatch.setattr(ukernel, "_default", None)
    with pytest.raises(ukernel.KernelGoneError, match="not started by a ukernel kernel"):
        ukernel.client()
