"""The bot inside the service's aiohttp app: `POST /telegram/webhook`, its start-up and its replays.

Like aiogram's SimpleRequestHandler (a wrong or missing secret header gets 401), except that each
update is stored (deduplicated on `update_id`) before anything else, then handled before the 200:
Telegram gets its answer once the update is safe, a re-sent update changes nothing, and one whose
handler died half-way is fed again by the replay loop. No token (production): the bot is off.

Telegram re-sends an update answered with anything but a 2xx (4xx included) until it gives up, holding
back the chat's next ones. So whatever Telegram may send is kept and answered 200: a NUL or a lone
surrogate in a text (which jsonb refuses) is kept as U+FFFD, and an update aiogram cannot read is kept,
marked failed with one log line and never replayed. Only a body that is no Telegram update at all (not a
JSON object, NaN, an `update_id` no bigint holds) gets a 400: Telegram does not send those.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import Update
from aiohttp import TCPConnector, web
from pydantic import ValidationError

from channels.telegram import updates
from channels.telegram.handlers import build_router
from channels.telegram.settings import WEBHOOK_PATH, TelegramSettings, telegram_bot_address, telegram_webhook_secret
from gateway.core.service import VOTE_SERVICE
from gateway.db.engine import Sessions
from gateway.db.storable import storable_json
from gateway.kit.keys import REDIS, RELAY, SESSIONS, settings_of
from gateway.kit.outbound_tls import verified_tls

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
REPLAY_EVERY_SECONDS = 30.0
MAX_UPDATE_ID = 2**63 - 1  # telegram_updates.update_id is a bigint
ALLOWED_UPDATES = ["message", "callback_query", "pre_checkout_query"]


@dataclass
class TelegramBot:
    bot: Bot
    dispatcher: Dispatcher
    secret: str
    sessions: Sessions
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, update_id: int, payload: dict[str, Any]) -> bool:
        """Feed one stored update to the bot; it stays unhandled (replayed later) if the handler fails.
        One aiogram cannot read is marked failed at once: reading it again would fail again."""
        try:
            update = Update.model_validate(payload, context={"bot": self.bot})
        except ValidationError as exc:
            first = exc.errors()[0]
            failure = f"{exc.error_count()} errors, first at {'.'.join(map(str, first['loc']))}: {first['msg']}"
            log.warning("telegram update %s is not one aiogram reads (%s); kept, not retried", update_id, failure)
            await updates.mark_failed(self.sessions, update_id, failure)
            return False
        try:
            await self.dispatcher.feed_update(self.bot, update)
        except Exception:
            log.exception("telegram update %s failed; it will be replayed", update_id)
            return False
        await updates.mark_handled(self.sessions, update_id)
        return True

    async def replay(self) -> int:
        """Feed again the stored updates whose handler died (at start-up, then every 30 s)."""
        replayed = 0
        for update_id, payload in await updates.claim_unhandled(self.sessions):
            replayed += await self.handle(update_id, payload)
        return replayed


TELEGRAM_BOT = web.AppKey("telegram_bot", TelegramBot)


def error(status: int, code: str, message: str) -> web.Response:
    """The service's error shape (`gateway.kit.answers`): `{"error": {"code", "message"}}`."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def telegram_webhook(request: web.Request) -> web.Response:
    telegram = request.app.get(TELEGRAM_BOT)
    if telegram is None:
        return error(404, "bot_off", "The Telegram bot is off.")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), telegram.secret.encode()):
        return error(401, "unauthorized", "Wrong or missing secret token.")
    try:
        payload = storable_json(await request.json(loads=strict_json))
        update_id = int(payload["update_id"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return error(400, "bad_update", "Not a Telegram update.")
    if not 0 <= update_id <= MAX_UPDATE_ID:  # Telegram's ids are far below; a forged one is no update
        return error(400, "bad_update", "update_id is not a Telegram update's.")
    if await updates.keep_update(telegram.sessions, update_id, payload):
        await telegram.handle(update_id, payload)
    return web.json_response({})


def strict_json(text: str) -> Any:
    """JSON without NaN and Infinity, which Python reads but PostgreSQL's jsonb refuses: spelled out, or as a
    number too large for a float (`1e400` reads as infinity)."""
    return json.loads(text, parse_constant=refuse_constant, parse_float=finite_float)


def finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is beyond a float")
    return number


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class PromptlyClosedSession(AiohttpSession):
    """aiogram's session, closed without its quarter of a second's wait for TLS connections to finish closing:
    aiohttp (3.12.11 on) aborts them as its connector closes, so the wait only held up every stop of the web.

    On the process's one TLS context (`verified_tls`): aiogram's own `__init__` takes none and loads certifi's
    bundle into a new one for every session (~25 ms of CPU each start of an app), so this sets what that `__init__`
    sets for a session without a proxy (aiogram as pinned in the lock), the shared context in place of its own.
    Every message the telegram tests send goes through a session made so."""

    def __init__(self, api: TelegramAPIServer = PRODUCTION) -> None:
        BaseSession.__init__(self, api=api)  # not AiohttpSession's, which would build a context of its own
        self._session = None
        self._connector_type = TCPConnector
        # aiogram's own limit and DNS cache life (its cure for stale addresses).
        self._connector_init = {"ssl": verified_tls(), "limit": 100, "ttl_dns_cache": 3600}
        self._should_reset_connector = True
        self._proxy = None

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def build_bot(token: str, api_base: str | None) -> Bot:
    """A Bot whose calls go to Telegram, or to `api_base` (another Bot API server, the local fake)."""
    if api_base:
        return Bot(token, session=PromptlyClosedSession(api=TelegramAPIServer.from_base(api_base.rstrip("/"))))
    return Bot(token, session=PromptlyClosedSession())


async def set_webhook(telegram: TelegramBot, settings: TelegramSettings, fake: bool) -> None:
    """Tell Telegram where to post (https only; the local fake takes plain http)."""
    base = settings.public_base_url.rstrip("/")
    if not (base.startswith("https://") or fake):
        log.info("telegram: PUBLIC_BASE_URL is not https, the webhook is not set (use gateway telegram --polling)")
        return
    try:
        await telegram.bot.set_webhook(f"{base}{WEBHOOK_PATH}", secret_token=telegram.secret,
                                       allowed_updates=ALLOWED_UPDATES, request_timeout=5)
    except Exception as exc:  # the fake Bot API not running, Telegram away: the rest of the service runs
        log.log(logging.INFO if fake else logging.WARNING, "telegram: setWebhook failed: %s", exc)


async def replay_loop(telegram: TelegramBot) -> None:
    while True:
        try:
            if replayed := await telegram.replay():
                log.info("telegram: %d stored updates replayed", replayed)
        except Exception:
            log.exception("telegram: replaying stored updates failed")
        await asyncio.sleep(REPLAY_EVERY_SECONDS)


async def telegram_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the bot after the vote service (its handlers use it); off without a token in production."""
    settings = settings_of(app, TelegramSettings)
    address = telegram_bot_address(settings)
    secret = telegram_webhook_secret(settings)
    if address is None or secret is None:
        log.info("telegram: the bot is off (TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET unset)")
        yield
        return
    dispatcher = Dispatcher(storage=RedisStorage(app[REDIS]))
    dispatcher.include_router(build_router())
    dispatcher["vote_service"] = app[VOTE_SERVICE]
    dispatcher["decided"] = app[RELAY].kick  # a counted vote: its board refresh and receipt go out now
    telegram = TelegramBot(build_bot(address.token, address.api_base), dispatcher, secret, app[SESSIONS])
    app[TELEGRAM_BOT] = telegram
    for work in (set_webhook(telegram, settings, address.fake), replay_loop(telegram)):
        task = asyncio.create_task(work)
        telegram.tasks.add(task)
        task.add_done_callback(telegram.tasks.discard)
    yield
    for task in list(telegram.tasks):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await telegram.bot.session.close()


def setup(app: web.Application) -> None:
    app.router.add_post(WEBHOOK_PATH, telegram_webhook)
    app.cleanup_ctx.append(telegram_ctx)
