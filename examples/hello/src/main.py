"""hello: acquire capabilities, log through the kernel, yield, and heartbeat once a second.

Set HEARTBEATS=N (env/ukernel.env or `ukernel run -e HEARTBEATS=N`) to stop after N heartbeats; 0 runs forever.
"""

import asyncio
import os

import ukernel


async def main() -> int:
    active = ukernel.cap_acquire(ukernel.Cap.LOG, ukernel.Cap.TIME)
    task_id, name = ukernel.task_self()
    ukernel.info(f"hello from {name} (task {task_id}), capabilities {active.name}")
    ukernel.task_yield()

    limit = int(os.environ.get("HEARTBEATS", "0"))
    start = ukernel.time_monotonic_ns()
    beat = 1
    while True:
        uptime = (ukernel.time_monotonic_ns() - start) / 1e9
        ukernel.info(f"heartbeat {beat} (uptime {uptime:.2f} s)")
        if limit and beat >= limit:
            ukernel.info("done")
            return 0
        beat += 1
        await asyncio.sleep(1)
