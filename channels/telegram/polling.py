"""`gateway telegram --polling`: for development with a real token and no public https address.

Telegram cannot reach a laptop, so this asks it for updates (`getUpdates`, after `deleteWebhook`) and
posts each one to the running service's own webhook with the secret, as Telegram would: the bot, its
storage and its deduplication are the same as in production. An update is acknowledged (the next
offset) only once the webhook answered 200.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from channels.telegram.settings import ALLOWED_UPDATES, SECRET_HEADER, TelegramBotAddress

log = logging.getLogger(__name__)


async def poll(http: httpx.AsyncClient, bot: TelegramBotAddress, webhook_url: str, secret: str, *,
               rounds: int | None = None, wait_seconds: int = 30) -> int:
    """Relay updates until stopped (or for `rounds` polls); the number relayed."""
    await http.post(bot.method_url("deleteWebhook"), json={"drop_pending_updates": False})
    offset, relayed, done = 0, 0, 0
    while rounds is None or done < rounds:
        done += 1
        try:
            answer = (await http.post(bot.method_url("getUpdates"), json={
                "offset": offset, "timeout": wait_seconds, "allowed_updates": ALLOWED_UPDATES},
                timeout=wait_seconds + 10)).json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("getUpdates failed (%s); trying again", exc)
            await asyncio.sleep(2)
            continue
        for update in answer.get("result") or []:
            if not await relay(http, webhook_url, secret, update):
                break
            offset, relayed = update["update_id"] + 1, relayed + 1
    return relayed


async def relay(http: httpx.AsyncClient, webhook_url: str, secret: str, update: dict[str, Any]) -> bool:
    try:
        response = await http.post(webhook_url, json=update, headers={SECRET_HEADER: secret})
    except httpx.HTTPError as exc:
        log.warning("the service did not take update %s (%s); it is asked for again", update.get("update_id"), exc)
        await asyncio.sleep(2)
        return False
    if response.status_code != 200:
        log.warning("the webhook answered %s to update %s", response.status_code, update.get("update_id"))
        await asyncio.sleep(2)
        return False
    return True
