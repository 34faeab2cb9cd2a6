"""`python -m tests.channels.telegram.first_update`: a web app started in a new Python, as `gateway web` starts one,
then given one Telegram update; prints (as JSON) whether aiogram was loaded before and after, the webhook's answer,
and how many objects a full collection still walks after it (what `KEEP_BUILT` has not kept out)."""

from __future__ import annotations

import asyncio
import gc
import json
import sys

from aiohttp.test_utils import TestClient, TestServer

from assembly.settings import Settings
from assembly.web.app import create_app, keep_built
from channels.telegram.settings import DEV_TELEGRAM_SECRET, WEBHOOK_PATH
from channels.telegram.webhook import SECRET_HEADER
from gateway.kit.keys import KEEP_BUILT

UPDATE = {"update_id": 1, "message": {"message_id": 1, "date": 1_700_000_000, "text": "/start",
                                      "chat": {"id": 5550009, "type": "private"},
                                      "from": {"id": 5550009, "is_bot": False, "first_name": "Ama"}}}


def aiogram_loaded() -> bool:
    return any(name.split(".")[0] == "aiogram" for name in sys.modules)


async def main() -> None:
    app = create_app(Settings())
    app[KEEP_BUILT] = lambda: keep_built(app)  # as `gateway web` sets it
    async with TestClient(TestServer(app)) as client:
        started = aiogram_loaded()
        ready = (await client.get("/readyz")).status
        answer = await client.post(WEBHOOK_PATH, json=UPDATE, headers={SECRET_HEADER: DEV_TELEGRAM_SECRET})
        print(json.dumps({"started": started, "ready": ready, "answer": answer.status, "after": aiogram_loaded(),
                          "collected": len(gc.get_objects())}))


if __name__ == "__main__":
    asyncio.run(main())
