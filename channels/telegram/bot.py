"""The bot itself: aiogram's Bot and Dispatcher, which read a stored update and run its handler.

Imported by a web process whose bot is real as it starts, and by one whose bot is the local fake Bot API
(development, the tests) only once it has an update to read (channels/telegram/webhook.py): aiogram's types take
~2 s of CPU to build, which every start of a web process, of `gateway run` and of the tests' apps paid before,
whether or not a message ever came.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.methods.base import Response, TelegramMethod, TelegramType
from aiogram.types import Update
from aiohttp import TCPConnector
from pydantic import ValidationError
from redis.asyncio import Redis

from channels.telegram import updates
from channels.telegram.free_votes import FreeVoteKit, build_free_router
from channels.telegram.handlers import build_router
from channels.telegram.settings import TelegramBotAddress
from gateway.core.service import VoteService
from gateway.db.engine import Sessions
from gateway.kit.outbound_tls import verified_tls
from gateway.kit.phone_wallets import PhoneWallets

log = logging.getLogger(__name__)


@dataclass
class UpdateReader:
    bot: Bot
    dispatcher: Dispatcher
    sessions: Sessions

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

    async def close(self) -> None:
        await self.bot.session.close()


def start_reader(address: TelegramBotAddress, redis: Redis, vote_service: VoteService,
                 decided: Callable[[], None], sessions: Sessions, free_kit: FreeVoteKit,
                 phone_wallets: PhoneWallets) -> UpdateReader:
    dispatcher = Dispatcher(storage=RedisStorage(redis))
    dispatcher.include_router(build_free_router())  # before the conversation's, whose last handler takes any message
    dispatcher.include_router(build_router())
    dispatcher["free_kit"] = free_kit
    dispatcher["vote_service"] = vote_service
    dispatcher["phone_wallets"] = phone_wallets  # whose wallet a payer's number likely is
    dispatcher["decided"] = decided  # a counted vote: its board refresh and receipt go out now
    return UpdateReader(build_bot(address.token, address.api_base), dispatcher, sessions)


class PromptlyClosedSession(AiohttpSession):
    """aiogram's session, closed without its quarter of a second's wait for TLS connections to finish closing:
    aiohttp (3.12.11 on) aborts them as its connector closes, so the wait only held up every stop of the web.

    It keeps the type of each answer it has read: aiogram reads every answer of the Bot API as `Response[T]`, T what
    the method returns, a model pydantic builds on first use (~6 ms of CPU: its schema and validator) and then caches
    only weakly when built inside a function. Nothing else held those types, so every full collection of a web
    process freed them and the next answers built them again: an eighth of a web process's CPU while Telegram votes
    came in (bench.channels, py-spy).

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
        self.answer_types: dict[Any, type[Response[Any]]] = {}

    def check_response(self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int,
                       content: str) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self.answer_types:
            self.answer_types[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def build_bot(token: str, api_base: str | None) -> Bot:
    """A Bot whose calls go to Telegram, or to `api_base` (another Bot API server, the local fake)."""
    if api_base:
        return Bot(token, session=PromptlyClosedSession(api=TelegramAPIServer.from_base(api_base.rstrip("/"))))
    return Bot(token, session=PromptlyClosedSession())
