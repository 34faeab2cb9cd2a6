"""The backstop for lost callbacks and lost jobs (a periodic job): messages AT holds since the last id we
saw (the SDK's `fetch_messages`, with real credentials only) are kept like a callback's, and every kept
message never handled is handled now. Both paths dedupe on AT's id, so a message is answered once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis

from channels.phone.at_account import AtAccount
from channels.sms import store
from channels.sms.forms import InvalidForm, parse_inbound
from gateway.db.engine import Sessions

log = logging.getLogger(__name__)
LAST_FETCHED_KEY = "sms:last_fetched_id"
HANDLE_AFTER = timedelta(minutes=1)  # a queued job normally answers within seconds
HANDLE_WITHIN = timedelta(hours=6)  # older silence is not answered any more
TIMEOUT = (3.05, 9.05)


def held_messages(account: AtAccount, last_id: str | None) -> list[dict[str, Any]]:
    """AT's `SMSMessageData.Messages` after `last_id` (synchronous: run it in a thread)."""
    from channels.phone.at_sdk import sms_service  # in the worker that fetches: a web process never loads the SDK

    answer: Any = sms_service(account).fetch_messages(last_received_id=last_id, timeout=TIMEOUT)
    if isinstance(answer, str):
        answer = json.loads(answer)
    messages: list[dict[str, Any]] = answer["SMSMessageData"]["Messages"]
    return messages


async def fetch_held(sessions: Sessions, redis: Redis, account: AtAccount) -> list[int]:
    """Keep what AT holds that no callback brought; returns the new rows' ids."""
    raw = await redis.get(LAST_FETCHED_KEY)
    last_id = raw.decode() if isinstance(raw, bytes) else None
    new: list[int] = []
    for item in await asyncio.to_thread(held_messages, account, last_id):
        form = {key: str(value) for key, value in item.items() if value is not None}
        try:
            message = parse_inbound(form)
        except InvalidForm as exc:
            log.warning("held SMS %s not kept: %s", form.get("id"), exc)
            continue
        if (inbound_id := await store.keep_inbound(sessions, message)) is not None:
            new.append(inbound_id)
        await redis.set(LAST_FETCHED_KEY, message.at_id)
    return new


async def backstop_pass(sessions: Sessions, redis: Redis, account: AtAccount | None,
                        handle: Callable[[int], Awaitable[str]]) -> int:
    """Returns how many kept messages were handled now."""
    fetched: list[int] = []
    if account is not None and account.base_url is None:  # AT itself (the local fake holds nothing)
        try:
            if fetched := await fetch_held(sessions, redis, account):
                log.warning("kept %d SMS that AT held and no callback brought", len(fetched))
        except Exception:
            log.warning("fetching the SMS AT holds failed; next pass tries again", exc_info=True)
    late = await store.unhandled(sessions, older_than=HANDLE_AFTER, within=HANDLE_WITHIN)
    owed = [*fetched, *(inbound_id for inbound_id in late if inbound_id not in fetched)]
    for inbound_id in owed:
        await handle(inbound_id)
    return len(owed)
