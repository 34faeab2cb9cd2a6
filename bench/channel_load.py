"""How `bench.channels` votes on each channel, the way a voter's vote reaches the service, one vote for candidate 07
paid from the voter's own account:

- web: the JSON API vote paid with MTN, `bench.votes`' own (`cast_vote`), each voter behind our proxy from an address
  of their own;
- USSD: a whole session in Africa's Talking's callback format, `1*07*1*1*1` hop by hop, the rehearsal's
  (`assembly.operations.rehearsal.load.ussd_vote`): the order is placed on its last screen and the prompt goes to MTN
  once the session is over;
- SMS: "VOTE 07 1" in AT's inbound-SMS callback, the rehearsal's (`sms_vote`): a job places the order, texts the
  reply through the AT stand-in and prompts MTN; the receipt follows by SMS once the vote counts;
- Telegram: a user played by the Bot API stand-in (`channels/telegram/fake_api`, as `gateway telegram --simulate`
  drives it), each step an update the stand-in posts to the bot's webhook: /start, the contest, 07, 1 vote, "Pay in
  Stars", then the pre_checkout_query and, once the bot said yes, the successful_payment; the receipt follows.

Each voter is someone new (a number, or a Telegram user), so no per-voter limit is met; each channel's numbers are
its own, and the sandboxes approve them all."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from assembly.operations.rehearsal.load import CANDIDATE, Refused, Told, Voter, sms_vote, ussd_vote
from bench.vote_providers import PROVIDERS
from bench.votes import Load, cast_vote

CHANNELS = ("web", "ussd", "sms", "telegram")
# Where each channel's voters' numbers start: far apart, so that no two votes of a run share a number.
FIRST_NUMBER = {"web": 6_000_000, "ussd": 1_000_000, "sms": 3_000_000, "telegram": 700_000_000}
SHORT_CODE = "20123"  # the demo contest's
CONTEST = "demo"

Cast = Callable[[aiohttp.ClientSession], Coroutine[Any, Any, None]]
PRIMING_SECONDS = 180.0
PRIMING_USERS = 8  # at once, so that every web process gets some (the stand-in keeps its connections open)


@dataclass(frozen=True)
class Target:
    """The stack's addresses a channel's votes go to, and the demo contest as its voters name it."""

    base_url: str
    bot_api_url: str
    contest_name: str


class ChatStopped(Exception):
    """The bot's chat did not go on as a user's vote in Stars does."""


def caster(channel: str, target: Target, load: Load) -> Cast:
    """One vote on `channel` each call, from the next voter of its own, noted in `load` (placed, or the error)."""
    numbers = itertools.count(FIRST_NUMBER[channel])
    if channel == "web":
        paid_by, url = PROVIDERS["mtn"], f"{target.base_url}/api/v1/contests/{CONTEST}/votes"
        return lambda http: cast_vote(http, paid_by, url, numbers, load)
    voter = Voter(target.base_url, CONTEST, None, None, SHORT_CODE)  # no callback tokens outside production
    if channel == "ussd":
        return lambda http: noted(load, ussd_vote(http, voter, next(numbers)))
    if channel == "sms":
        return lambda http: noted(load, sms_vote(http, voter, next(numbers)))
    return lambda http: noted(load, telegram_vote(http, target, next(numbers)))


async def noted(load: Load, vote: Coroutine[Any, Any, tuple[Told, str]]) -> None:
    try:
        told, said = await vote
    except (Refused, ChatStopped) as exc:
        said = f"{type(exc).__name__}: {exc}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        said = type(exc).__name__
    else:
        if told in (Told.PLACED, Told.KEPT):
            load.placed += 1
            return
    load.errors[said] = load.errors.get(said, 0) + 1


async def telegram_vote(http: aiohttp.ClientSession, target: Target, user: int) -> tuple[Told, str]:
    """A user's vote in the bot, paid in Stars; PLACED once the bot took the payment (its invoice's payload)."""
    chat = await act(http, target, user, "say", text="/start")
    chat = await act(http, target, user, "press", label=target.contest_name)
    chat = await act(http, target, user, "press", label=labelled(chat, f"{CANDIDATE} "))
    chat = await act(http, target, user, "press", label="1")
    chat = await act(http, target, user, "press", label=labelled(chat, ""))  # "Pay 10 ⭐ in Telegram Stars"
    invoice = chat[-1].get("invoice")
    if not invoice:
        raise ChatStopped(f"no invoice: {chat[-1]['text'][:48]!r}")
    async with http.post(f"{target.bot_api_url}/_user/{user}/pay", json={}) as response:
        paid = await response.json()
    if paid.get("result") is not True:
        return Told.REFUSED, f"pre-checkout refused: {paid.get('error', '')}"
    return Told.PLACED, str(invoice["payload"])


async def act(http: aiohttp.ClientSession, target: Target, user: int, action: str, **body: str) -> list[dict[str, Any]]:
    """One step of the user's (an update the stand-in posts to the webhook); the chat as it then shows."""
    async with http.post(f"{target.bot_api_url}/_user/{user}/{action}", json=body) as response:
        answer = await response.json()
    if response.status != 200:
        raise ChatStopped(f"{action}: {answer.get('error', response.status)}")
    if answer.get("result") != 200:
        raise ChatStopped(f"{action}: the webhook answered {answer.get('result')}")
    chat: list[dict[str, Any]] = answer["chat"]
    return chat


def labelled(chat: list[dict[str, Any]], prefix: str) -> str:
    """The label of the newest message's first button starting with `prefix`."""
    for label, _ in chat[-1]["buttons"]:
        if label.startswith(prefix):
            return str(label)
    raise ChatStopped(f"no button {prefix!r} under {chat[-1]['text'][:48]!r}")


async def primed(channel: str, target: Target) -> str | None:
    """The bot made ready in every web process before its votes are timed, or why not. On the Bot API's stand-in a
    web process builds its bot (aiogram's types) at its first update, a few seconds of its event loop, where a real
    bot's is built before the process is ready; on a busy machine long enough for `gateway run` to take the process
    for frozen and replace it, whose replacement then builds it again. Rounds of updates until one is all answered."""
    if channel != "telegram":
        return None
    deadline, users, why = time.monotonic() + PRIMING_SECONDS, itertools.count(FIRST_NUMBER[channel] - 100_000), ""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        while time.monotonic() < deadline:
            answers = await asyncio.gather(*(act(http, target, next(users), "say", text="/start")
                                             for _ in range(PRIMING_USERS)), return_exceptions=True)
            failed = [answer for answer in answers if isinstance(answer, BaseException)]
            if not failed:
                return None
            why = f"{type(failed[0]).__name__}: {failed[0]}"
            await asyncio.sleep(2)
    return f"the bot never answered a round of {PRIMING_USERS} updates in {PRIMING_SECONDS:g} s ({why})"
