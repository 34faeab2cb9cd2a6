"""A web process for the supervisor's tests, light to start: the real loop watch (with its heartbeat to the
supervisor) in an aiohttp server sharing its port with others (SO_REUSEPORT), as `gateway web` runs, answering
`/healthz`. SIGUSR1 holds its loop for good: a callback on the loop that waits for a lock it already holds, as the GC
callback did for the metrics' lock."""

import asyncio
import signal
import sys
import threading
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CollectorRegistry

from assembly.settings import LivenessSettings
from assembly.web.loop_watch import LoopWatch, watching


async def loop_watch(app: web.Application) -> AsyncIterator[None]:
    watch = LoopWatch(CollectorRegistry())
    async with watching(watch):
        # started (`gateway web` says so after its last start-up step), frozen after what its settings say
        watch.beat_from_now(LivenessSettings().gateway_frozen_after_seconds)
        yield


def hold_the_loop() -> None:
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()  # never returns


async def hold_on_sigusr1(app: web.Application) -> None:
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, hold_the_loop)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


app = web.Application()
app.cleanup_ctx.append(loop_watch)
app.on_startup.append(hold_on_sigusr1)
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), reuse_port=True, print=None, access_log=None)
