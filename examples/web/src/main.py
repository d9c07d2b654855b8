"""web: an aiohttp application on 127.0.0.1:$PORT (default 8080), unmodified aiohttp on the kernel's loop.

GET /          a greeting and the request count, as JSON
GET /healthz   "ok" (for probes)
Ctrl-C or SIGTERM stops the server cleanly (open requests finish first).
"""

import asyncio
import os
import signal

import aiohttp
from aiohttp import web

import ukernel


async def main():
    ukernel.cap_acquire("LOG")
    port = int(os.environ.get("PORT", "8080"))
    served = 0

    async def hello(request):
        nonlocal served
        served += 1
        return web.json_response({"hello": "from a ukernel worker", "served": served})

    async def healthz(request):
        return web.Response(text="ok")

    app = web.Application()
    app.add_routes([web.get("/", hello), web.get("/healthz", healthz)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    host, bound = runner.addresses[0][:2]  # PORT=0: the port the kernel picked
    ukernel.info("web: aiohttp %s listening on http://%s:%d/" % (aiohttp.__version__, host, bound))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await runner.cleanup()
    ukernel.info("web: stopped after %d request(s)" % served)
    return 0
