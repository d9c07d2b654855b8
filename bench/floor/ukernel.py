"""A stand-in for the ukernel adapter, for the start-up floor: plain CPython, no kernel.

It implements only what examples/hello/src/main.py uses, with the same shapes as the real adapter
(python/ukernel): Cap is an IntFlag with LOG and TIME, cap_acquire returns the active flags, info prints
one line and flushes it (the real one writes it to the kernel console).
"""

import enum
import time


class Cap(enum.IntFlag):
    LOG = 1
    TIME = 2


def cap_acquire(*caps):
    active = Cap(0)
    for c in caps:
        active |= c
    return active


def task_self():
    return 1, "main"


def info(message):
    print(message, flush=True)


def task_yield():
    pass


time_monotonic_ns = time.monotonic_ns
