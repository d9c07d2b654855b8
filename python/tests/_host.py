"""What this host offers the worker sandbox, for tests that need the real filter (shared by test_confine.py and
test_seccomp.py)."""

import pytest

from ukernel import _confine as c


def host_can_confine():
    """None when Landlock and the seccomp filter can be applied here, else why not."""
    if c.seccomp_table() is None:
        return "seccomp filters are built for Linux x86_64 only"
    if c.landlock_abi() < 1:
        return "no Landlock on this host"
    return None


needs_confinement = pytest.mark.skipif(host_can_confine() is not None, reason=host_can_confine() or "")
