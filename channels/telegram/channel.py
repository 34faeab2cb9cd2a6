"""Telegram's parts for the assembly (assembly/channel_list.py): the webhook, receipts, the local fake Bot API
and `gateway telegram`.

The bot's own settings (TELEGRAM_*) are in settings.py; the Stars provider (payments/stars) uses the
same bot."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import httpx
from aiohttp import web

from channels.telegram import webhook
from channels.telegram.contest_settings import CHANNEL, TELEGRAM_CONTEST_SETTINGS
from channels.telegram.how_to_vote import how_to_vote
from channels.telegram.receipts import TelegramReceipts
from channels.telegram.settings import (
    WEBHOOK_PATH,
    TelegramBotAddress,
    TelegramSettings,
    telegram_bot_address,
    telegram_webhook_secret,
)
from channels.telegram.updates import prune_updates
from gateway.core.orders.receipts import ReceiptSender
from gateway.core.worker_passes import WorkerPass
from gateway.db.engine import Sessions
from gateway.kit.channel_parts import ChannelParts
from gateway.kit.job_resources import JobResources
from gateway.kit.outbound_tls import verified_tls
from gateway.kit.stand_ins import StandIn, listen_address


def setup(app: web.Application) -> None:
    """The webhook's route and the bot's context (aiogram's part, bot.py, waits for the first update when the bot
    is the local fake)."""
    webhook.setup(app)


async def prune_job(ctx: JobResources[TelegramSettings]) -> int:
    """Hourly: kept updates past the week in which Telegram could send them again."""
    return await prune_updates(ctx.sessions)


def receipts(settings: TelegramSettings, sessions: Sessions, http: httpx.AsyncClient) -> ReceiptSender | None:
    if (bot := telegram_bot_address(settings)) is None:
        return None
    return TelegramReceipts(sessions, http, bot)


# In development without a token, the bot talks to a local fake Bot API (`gateway run` starts it).
def fake_bot_api_needed(settings: TelegramSettings) -> bool:
    address = telegram_bot_address(settings)
    return address is not None and address.fake and address.api_base == settings.telegram_fake_api_url


def fake_bot_api_address(settings: TelegramSettings) -> tuple[str, int]:
    return listen_address(settings.telegram_fake_api_url, 8092)


def fake_bot_api_args(settings: TelegramSettings) -> list[str]:
    return ["--webhook-url", f"{settings.public_base_url.rstrip('/')}{WEBHOOK_PATH}",
            "--secret", telegram_webhook_secret(settings) or ""]


FAKE_BOT_API = StandIn[TelegramSettings](
    "telegram-fake", "channels.telegram.fake_api", fake_bot_api_needed, fake_bot_api_address,
    announce=lambda settings: (f"  telegram      {settings.telegram_fake_api_url}/_calls  "
                               "(fake Bot API; try gateway telegram --simulate)"),
    args=fake_bot_api_args,
)


def run_command(settings: TelegramSettings, args: argparse.Namespace) -> int:
    """Walk the bot through the local fake Bot API (`--simulate`), or relay a real bot's updates (`--polling`)."""
    if args.polling:
        return polling(settings)
    if not args.simulate:
        print("gateway telegram: --simulate (against gateway run, no token) or --polling (a real token)",
              file=sys.stderr)
        return 2
    from channels.telegram.simulator import main

    return main(args)


def polling(settings: TelegramSettings) -> int:
    """Relay a real bot's updates from getUpdates to the running service's webhook."""
    from channels.telegram.polling import poll

    token, secret = settings.telegram_bot_token, telegram_webhook_secret(settings)
    if token is None or not token.get_secret_value() or secret is None:
        print("gateway telegram --polling needs TELEGRAM_BOT_TOKEN (and TELEGRAM_WEBHOOK_SECRET in production)",
              file=sys.stderr)
        return 2
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::", "") else settings.gateway_host
    url = f"http://{host}:{settings.gateway_port}{WEBHOOK_PATH}"

    async def run() -> int:
        async with httpx.AsyncClient(timeout=15, verify=verified_tls()) as http:
            bot = TelegramBotAddress(token.get_secret_value(), settings.telegram_api_base, fake=False)
            return await poll(http, bot, url, secret)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = sub.add_parser("telegram", help="the Telegram bot: --simulate walks it through the fake Bot API")
    command.add_argument("--simulate", action="store_true", help="vote as a user against `gateway run`")
    command.add_argument("--polling", action="store_true",
                         help="a real bot without https: relay getUpdates to the running service's webhook")
    command.add_argument("--fake-url", help="the fake Bot API (default: TELEGRAM_FAKE_API_URL)")
    command.add_argument("--user", type=int, default=700000001, help="the simulated Telegram user id")
    command.add_argument("--language", default="en", help="the user's language_code (en, fr, sw)")
    command.add_argument("--candidate", default="07")
    command.add_argument("--votes", type=int, default=5, choices=(1, 5, 10, 50))
    command.set_defaults(func=run_command)


TELEGRAM = ChannelParts[TelegramSettings](CHANNEL, setup,
                                  passes=(WorkerPass(f"{CHANNEL}-prune", prune_job, every=3600),),
                                  receipts=receipts, stand_ins=(FAKE_BOT_API,),
                                  commands=add_commands, migrations=Path(__file__).with_name("migrations"),
                                  contest_settings=TELEGRAM_CONTEST_SETTINGS, how_to_vote=how_to_vote)
