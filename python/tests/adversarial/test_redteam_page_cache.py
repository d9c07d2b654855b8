"""Attack class: the host's page cache. Every file a worker can open is a host inode (the runtime, public data, the
bundle), and ``posix_fadvise(POSIX_FADV_DONTNEED)`` on a read-only descriptor drops that file's clean pages from the
host's page cache: any process may do it, with no check of ownership (``madvise(MADV_PAGEOUT)`` has one). A worker
could so keep evicting the interpreter and libc every host process shares, and pair it with ``preadv2(RWF_NOWAIT)``
(which fails with EAGAIN on an uncached page) to watch which pages of a shared file host processes touch — the
page-cache side channel. The seccomp allow-list refuses those two arguments: ``fadvise64`` with ``DONTNEED`` or
``NOREUSE``, ``preadv2``/``pwritev2`` with ``RWF_NOWAIT``.

The effect is read from outside: after the worker advised, the test asks ``mincore`` on its own mapping of the
same file whether its pages are still in the page cache.
"""

import ctypes
import mmap
import os

import pytest

from _harness import Running, host_can_confine, make_app, text

SIZE = 1 << 20

MAIN = """\
import errno, os
import ukernel

def main():
    ukernel.cap_acquire("LOG")
    target = os.path.realpath("src/data.bin")  # the bundle's copy: a host inode, bind-mounted read-only
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)  # the build just wrote it: clean pages only (DONTNEED leaves dirty ones)
    except OSError:
        pass
    while os.read(fd, 1 << 16):  # every page in the page cache
        pass
    outcomes = []
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        outcomes.append("ok")
    except OSError as e:
        outcomes.append(errno.errorcode.get(e.errno, str(e.errno)))
    try:
        os.preadv(fd, [bytearray(4096)], 0, os.RWF_NOWAIT)
        outcomes.append("ok")
    except OSError as e:
        outcomes.append(errno.errorcode.get(e.errno, str(e.errno)))
    ukernel.info("attempt evict %s: %s" % (target, " ".join(outcomes)))
"""


def resident_pages(path):
    """How many pages of ``path`` are in the host's page cache (``mincore`` on a fresh read-only mapping: mapping
    a file reads none of it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        m = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)  # writable view for ctypes; nothing is written
        try:
            vec = ctypes.create_string_buffer((size + mmap.PAGESIZE - 1) // mmap.PAGESIZE)
            view = (ctypes.c_char * 1).from_buffer(m)
            try:
                assert libc.mincore(ctypes.addressof(view), size, vec) == 0, os.strerror(ctypes.get_errno())
            finally:
                del view
            return sum(b & 1 for b in vec.raw)
        finally:
            m.close()


def attack(tmp_path, *flags):
    app = make_app(tmp_path / "app", MAIN)
    (app / "src" / "data.bin").write_bytes(os.urandom(SIZE))
    with Running(app, *flags) as run:
        line = run.wait_for(lambda l: text(l).startswith("attempt evict "))
        target, outcome = text(line)[len("attempt evict "):].rsplit(": ", 1)
        assert target.startswith(str(app)), text(line)  # the host path of the bundle file
        return outcome, resident_pages(target), run.explain()


def test_insecure_worker_evicts_a_host_file_from_the_page_cache(tmp_path):
    outcome, resident, console = attack(tmp_path, "--insecure-no-sandbox")
    assert outcome.split()[0] == "ok", console
    assert resident < SIZE // mmap.PAGESIZE // 2, \
        "without the sandbox the pages must be evicted (else this test proves nothing): %d resident" % resident


def test_strict_worker_cannot_evict_host_pages(tmp_path):
    why = host_can_confine()
    if why:
        pytest.skip(why)
    outcome, resident, console = attack(tmp_path)
    # All of them stay but for what the host's own reclaim may take on a loaded machine; eviction leaves ~none.
    assert resident >= SIZE // mmap.PAGESIZE // 2, "%d of %d pages left\n%s" % (resident, SIZE // mmap.PAGESIZE,
                                                                               console)
    assert outcome == "EPERM EPERM", console  # both refused by the seccomp allow-list
