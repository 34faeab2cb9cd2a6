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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from aiohttp import web

from channels.telegram import updates
from channels.telegram.settings import (
    ALLOWED_UPDATES,
    SECRET_HEADER,
    WEBHOOK_PATH,
    TelegramBotAddress,
    TelegramSettings,
    telegram_bot_address,
    telegram_webhook_secret,
)
from gateway.core.service import VOTE_SERVICE
from gateway.db.engine import Sessions
from gateway.db.storable import storable_json
from gateway.kit.collector_held import collector_held
from gateway.kit.keys import KEEP_BUILT, PHONE_WALLETS, QUEUE, REDIS, RELAY, SESSIONS, settings_of
from gateway.kit.outbound_tls import verified_tls

if TYPE_CHECKING:
    from channels.telegram.bot import UpdateReader

log = logging.getLogger(__name__)
REPLAY_EVERY_SECONDS = 30.0
MAX_UPDATE_ID = 2**63 - 1  # telegram_updates.update_id is a bigint


@dataclass
class TelegramBot:
    """The bot as the web process holds it: its secret, and aiogram's reader of updates, started with the process
    for a real bot and at the first update for the local fake (channels/telegram/bot.py says why)."""

    secret: str
    sessions: Sessions
    start_reader: Callable[[], UpdateReader]
    reader: UpdateReader | None = None
    keep_built: Callable[[], None] = lambda: None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, update_id: int, payload: dict[str, Any]) -> bool:
        if self.reader is not None:
            return await self.reader.handle(update_id, payload)
        self.reader = self.start_reader()
        handled = await self.reader.handle(update_id, payload)
        # aiogram's types and their validators, built by now, live as long as the process: out of later collections
        # (they doubled a full collection's pause, 0.13 to 0.29 s here, and every one after the first update paid it).
        self.keep_built()
        return handled

    async def replay(self) -> int:
        """Feed again the stored updates whose handler died (at start-up, then every 30 s)."""
        replayed = 0
        for update_id, payload in await updates.claim_unhandled(self.sessions):
            replayed += await self.handle(update_id, payload)
        return replayed

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.reader is not None:
            await self.reader.close()


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


async def set_webhook(address: TelegramBotAddress, secret: str, settings: TelegramSettings) -> None:
    """Tell Telegram where to post (https only; the local fake takes plain http). One plain call, as `gateway
    telegram --polling` makes its own: through aiogram, every start of a web process would build its types. On a
    client of its own, not the providers' (`HTTP`), whose calls to Telegram's address count as Stars' in the
    service's figures."""
    base = settings.public_base_url.rstrip("/")
    if not (base.startswith("https://") or address.fake):
        log.info("telegram: PUBLIC_BASE_URL is not https, the webhook is not set (use gateway telegram --polling)")
        return
    try:
        # No proxy from the environment: the bot's own calls (aiogram's) take none either.
        async with httpx.AsyncClient(verify=verified_tls(), timeout=5, trust_env=False) as http:
            response = await http.post(address.method_url("setWebhook"), json={
                "url": f"{base}{WEBHOOK_PATH}", "secret_token": secret, "allowed_updates": ALLOWED_UPDATES})
        answer = response.json()
        if not (isinstance(answer, dict) and answer.get("ok")):
            raise ValueError(f"HTTP {response.status_code}: {str(answer)[:200]}")
    except Exception as exc:  # the fake Bot API not running, Telegram away, a wrong address: the rest runs
        log.log(logging.INFO if address.fake else logging.WARNING, "telegram: setWebhook failed: %s", exc)


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
    telegram = TelegramBot(secret, app[SESSIONS], lambda: start_reader(app, address),
                           keep_built=app.get(KEEP_BUILT, lambda: None))
    if not address.fake:
        # A real bot's reader is built before the process is ready: built at the first update, it would hold up
        # the votes being taken for the seconds aiogram's types take. On the local fake, only a developer waits.
        telegram.reader = telegram.start_reader()
    app[TELEGRAM_BOT] = telegram
    for work in (set_webhook(address, secret, settings), replay_loop(telegram)):
        task = asyncio.create_task(work)
        telegram.tasks.add(task)
        task.add_done_callback(telegram.tasks.discard)
    yield
    await telegram.close()


def start_reader(app: web.Application, address: TelegramBotAddress) -> UpdateReader:
    with collector_held(freeze=False):  # aiogram builds ~700 models: a fifth less CPU without collections meanwhile
        from channels.telegram import bot  # aiogram, once there is an update to read
        from channels.telegram.free_votes import FreeVoteKit

    settings = settings_of(app, TelegramSettings)
    free_kit = FreeVoteKit(app[SESSIONS], app[REDIS], app[QUEUE], settings.secret_key.get_secret_value(),
                           min(settings.entry_codes_default_per_day, settings.entry_codes_per_day))
    # The bot finds the voter's contest at every update of a vote: a copy a few seconds old words its screens, and
    # the vote's own transaction checks the contest and candidate afresh (gateway.core.contests.kept_catalog).
    return bot.start_reader(address, app[REDIS], app[VOTE_SERVICE].keeping_contests(), app[RELAY].kick,
                            app[SESSIONS], free_kit, app[PHONE_WALLETS])


def setup(app: web.Application) -> None:
    app.router.add_post(WEBHOOK_PATH, telegram_webhook)
    app.cleanup_ctx.append(telegram_ctx)
