"""The web application alone in a process of its own, so that a test can read that process's peak memory.

Usage: python -m tests.admin.export_server DATABASE_URL REDIS_URL PORT DATA_DIR; prints `ready` once it listens.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

from assembly.settings import Settings
from assembly.web.app import create_app


async def serve(database_url: str, redis_url: str, port: int, data_dir: Path) -> None:
    # Its other addresses come from the suite's environment (tests/conftest.py): nowhere `make run` listens.
    settings = Settings(_env_file=None, database_url=database_url, redis_url=redis_url,  # type: ignore[call-arg]
                        gateway_data_dir=data_dir)
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])))
