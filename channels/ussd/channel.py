"""USSD's parts for the assembly (assembly/channel_list.py): routes, the SMS that follows a decided vote (its
receipts), the production check, `gateway ussd`, its tables' migrations and its settings of a contest."""

from __future__ import annotations

import argparse
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from channels.phone.at_account import at_account
from channels.phone.at_messaging import AtMessaging
from channels.ussd import routes
from channels.ussd.contest_settings import DEMO_SERVICE_CODE, USSD_CONTEST_SETTINGS
from channels.ussd.dialled import live_contests_dialled
from channels.ussd.how_to_vote import how_to_vote
from channels.ussd.receipts import UssdReceiptSender
from channels.ussd.settings import UssdSettings, ussd_token_problem
from gateway.core.orders.receipts import ReceiptSender
from gateway.db.engine import Sessions
from gateway.kit.channel_parts import ChannelParts


def production_problems(settings: UssdSettings, in_use: bool) -> list[str]:
    """Open USSD routes let anyone place orders and push payment prompts to any number."""
    if in_use and (problem := ussd_token_problem(settings)):
        return [f"a contest takes USSD votes but {problem}: without a real token anyone could place "
                "orders and push payment prompts to any number"]
    return []


async def check_production(settings: UssdSettings, session: AsyncSession) -> list[str]:
    return production_problems(settings, await live_contests_dialled(session) > 0)


def receipts(settings: UssdSettings, sessions: Sessions, http: httpx.AsyncClient) -> ReceiptSender:
    """A decided USSD vote is told by SMS, through AT's messaging API (the local fake in development)."""
    account = at_account(settings)
    return UssdReceiptSender(sessions, AtMessaging(account) if account is not None else None)


def simulate(settings: UssdSettings, args: argparse.Namespace) -> int:
    """Dial the running service like a phone (interactive, or a scripted path)."""
    from channels.ussd.simulator import main

    return main(args)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = sub.add_parser("ussd", help="a phone simulator that dials the running service over USSD")
    command.add_argument("--url", help="the service's base URL (default: GATEWAY_HOST:GATEWAY_PORT)")
    command.add_argument("--service-code", default=DEMO_SERVICE_CODE)
    command.add_argument("--msisdn", default="+237670000001", help="the phone number dialling")
    command.add_argument("--script", help='play a path such as "1*07*5*1*1" and print each screen')
    command.set_defaults(func=simulate)


USSD = ChannelParts[UssdSettings](
    "ussd", routes.setup,
    receipts=receipts,
    pushes_payment_prompt=True,
    commands=add_commands,
    production_problems=check_production,
    migrations=Path(__file__).with_name("migrations"),
    contest_settings=USSD_CONTEST_SETTINGS,
    how_to_vote=how_to_vote,
)
