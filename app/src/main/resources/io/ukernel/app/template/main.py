"""The app's main task: a heartbeat worker.

The kernel runs ``main()`` on its event loop. Every resource goes through the
``ukernel`` module and needs a capability granted in ukernel.toml.

Environment (env/ukernel.env or ``ukernel run -e KEY=VALUE``):
  GREETING    logged once at start, if set
  HEARTBEATS  stop after this many heartbeats (default: run until stopped)
"""

import asyncio
import os

import ukernel


async def main():
    ukernel.cap_acquire(ukernel.Cap.LOG, ukernel.Cap.TIME)
    task_id, task_name = ukernel.task_self()
    ukernel.info(f"hello from {task_name} (task {task_id})")
    greeting = os.environ.get("GREETING")
    if greeting:
        ukernel.info(f"GREETING={greeting}")

    limit = int(os.environ.get("HEARTBEATS", "0"))
    start = ukernel.time_monotonic_ns()
    n = 1
    while True:
        uptime = (ukernel.time_monotonic_ns() - start) / 1e9
        ukernel.info(f"heartbeat {n} (uptime {uptime:.2f} s)")
        if limit and n >= limit:
            return 0
        n += 1
        await asyncio.sleep(1)
