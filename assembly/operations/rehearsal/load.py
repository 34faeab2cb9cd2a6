"""The rehearsal's traffic: voters on every channel the installation takes, in the formats real callers use
(the JSON API through our proxy, Africa's Talking's USSD and inbound-SMS callbacks with their URL tokens),
offered at a fixed rate whatever the answers' pace (open loop, as a show's crowd), and viewers holding the
board's SSE stream, noting when each frame arrives."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import aiohttp

from assembly.operations.rehearsal.schedule import on_schedule

USSD_ROUTE = "/ussd/africastalking"
SMS_ROUTE = "/sms/africastalking/inbound"
USSD_CODE = "*384*123#"
CANDIDATE = "07"
# One vote for 07, paid by the caller's own network (MTN comes first for an MTN number), confirmed.
USSD_PATH = ("1", CANDIDATE, "1", "1", "1")
# Channels that answer these refuse the rehearsal's requests as a whole (not mounted, token refused).
NOT_SET_UP = (401, 403, 404, 405)


class Told(StrEnum):
    """What the installation answered a vote, as its voter would read it."""

    PLACED = "placed"  # the answer names its order: the web API's 201 its id, USSD's last screen its reference
    KEPT = "kept"  # an SMS taken in: its answer, a payment prompt or a refusal, comes later by SMS
    REFUSED = "refused"  # an answer that places nothing: an HTTP error, a last screen with no reference
    NO_ANSWER = "no answer"  # the client gave up (time-out, connection lost); the server may have gone on


@dataclass(frozen=True)
class Vote:
    """One vote offered, as answered. `said`: the order's id (web), its reference (USSD), AT's message id (SMS),
    or, when nothing was placed, what the answer was ("HTTP 429", the screen shown, the client's error)."""

    channel: str
    msisdn: str
    told: Told
    said: str


@dataclass
class Traffic:
    offered: Counter[str] = field(default_factory=Counter)  # by channel
    votes: list[Vote] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # channel -> why
    viewer_errors: Counter[str] = field(default_factory=Counter)  # "HTTP 503", ...
    # Per viewer, each frame as (received, the board's updated_at), epoch seconds.
    frames: list[list[tuple[float, float]]] = field(default_factory=list)
    behind: float = 0.0  # seconds: the latest any vote went out against its schedule


@dataclass(frozen=True)
class Voter:
    """Where and as whom the rehearsal votes."""

    base_url: str
    contest: str
    ussd_token: str | None
    sms_token: str | None
    short_code: str


def msisdn(number: int) -> str:
    """An MTN Cameroon number the sandbox approves, one for each `number` (below 9,900,000): its magic payers
    (ending in 450 to 459: failed, rejected, expired, late, disagreeing) are stepped over, or a rehearsal's
    verdict would depend on where its numbers began; and no two votes share a number, or the second would meet
    the first's per-number limits and its orders could not be told apart."""
    block, ending = divmod(number % 9_900_000, 990)
    if ending >= 450:
        ending += 10
    return f"+23767{block * 1000 + ending:07d}"


def address(number: int) -> str:
    """Each web voter behind our proxy from an address of their own (the per-address limit counts voters)."""
    return f"41.203.{number // 250 % 250}.{number % 250 + 1}"


class Refused(Exception):
    """The channel answered as one not set up for these requests."""


# An order's short reference (`short_reference` of the USSD and SMS channels): the last screen of a vote names it.
REFERENCE = re.compile(r"\b[0-9A-F]{8}\b")
SCREEN_SHOWN = 48  # characters of a refusing screen kept to name it


async def web_vote(http: aiohttp.ClientSession, voter: Voter, number: int) -> tuple[Told, str]:
    body = {"candidate": CANDIDATE, "quantity": 1, "provider": "mtn", "msisdn": msisdn(number)}
    async with http.post(f"{voter.base_url}/api/v1/contests/{voter.contest}/votes", json=body,
                         headers={"X-Forwarded-For": address(number)}) as response:
        answer = await response.read()
        if refused_by_status(response.status, 201):
            return Told.REFUSED, f"HTTP {response.status}"
    return Told.PLACED, order_id(answer)


def order_id(answer: bytes) -> str:
    """The created order's id ("" if the 201 names none: then no order will match it, and the verdict says so)."""
    try:
        return str(json.loads(answer)["order"]["id"])
    except (ValueError, KeyError, TypeError):
        return ""


async def ussd_vote(http: aiohttp.ClientSession, voter: Voter, number: int) -> tuple[Told, str]:
    """A session through the menu. A screen that ends it early, or a last one naming no order (a refusal, "service
    unavailable"), is a refusal: the caller was told no order was placed."""
    session = f"REHEARSAL-{number}-{time.time_ns()}"
    query = {"token": voter.ussd_token} if voter.ussd_token else {}
    for hop in range(len(USSD_PATH) + 1):
        form = {"sessionId": session, "serviceCode": USSD_CODE, "phoneNumber": msisdn(number),
                "networkCode": "rehearsal", "text": "*".join(USSD_PATH[:hop])}
        async with http.post(voter.base_url + USSD_ROUTE, data=form, params=query) as response:
            body = await response.text()
            if refused_by_status(response.status, 200):
                return Told.REFUSED, f"HTTP {response.status}"
        last = hop == len(USSD_PATH)
        if not body.startswith("CON " if not last else "END "):
            return Told.REFUSED, ("ended early: " if body.startswith("END ") else "unexpected: ") + body[:SCREEN_SHOWN]
    reference = REFERENCE.search(body)
    return (Told.PLACED, reference.group()) if reference else (Told.REFUSED, body[:SCREEN_SHOWN])


async def sms_vote(http: aiohttp.ClientSession, voter: Voter, number: int) -> tuple[Told, str]:
    at_id = f"REHEARSAL-{number}-{time.time_ns()}"
    form = {"from": msisdn(number), "to": voter.short_code, "text": f"VOTE {CANDIDATE} 1", "id": at_id,
            "linkId": f"RL{number}", "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "networkCode": "rehearsal"}
    query = {"token": voter.sms_token} if voter.sms_token else {}
    async with http.post(voter.base_url + SMS_ROUTE, data=form, params=query) as response:
        await response.read()
        if refused_by_status(response.status, 200):
            return Told.REFUSED, f"HTTP {response.status}"
    return Told.KEPT, at_id


def refused_by_status(status: int, wanted: int) -> bool:
    if status in NOT_SET_UP:
        raise Refused(f"HTTP {status}")
    return status != wanted


Cast = Callable[[aiohttp.ClientSession, Voter, int], Awaitable[tuple[Told, str]]]
CHANNELS: dict[str, Cast] = {"web": web_vote, "ussd": ussd_vote, "sms": sms_vote}


def gave_up(exc: BaseException) -> str:
    """The client's error, named as a reader can look it up ("ClientOSError: Connection reset by peer")."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else None
    return type(exc).__name__ + (f": {reason}" if reason else "")


async def cast(http: aiohttp.ClientSession, voter: Voter, channel: str, number: int, traffic: Traffic) -> None:
    traffic.offered[channel] += 1
    try:
        told, said = await CHANNELS[channel](http, voter, number)
    except Refused as refused:
        traffic.offered[channel] -= 1  # not a vote the installation could take: the channel is off
        traffic.skipped.setdefault(channel, f"not set up here (answered {refused})")
        return
    except (aiohttp.ClientError, TimeoutError) as exc:
        told, said = Told.NO_ANSWER, gave_up(exc)
    traffic.votes.append(Vote(channel, msisdn(number), told, said))


async def offer(voter: Voter, rate: float, seconds: float, first_number: int, traffic: Traffic) -> int:
    """Votes at `rate` a second for `seconds` (`on_schedule`), round the channels still taking them; returns the
    numbers used. `traffic.behind`: the latest a vote went out."""
    pending: set[asyncio.Task[None]] = set()
    timeout = aiohttp.ClientTimeout(total=30)
    sent = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as http, \
            contextlib.aclosing(on_schedule(rate, seconds)) as schedule:
        async for late in schedule:
            traffic.behind = max(traffic.behind, late)
            live = [name for name in CHANNELS if name not in traffic.skipped]
            if not live:
                break
            task = asyncio.create_task(cast(http, voter, live[sent % len(live)], first_number + sent, traffic))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        await asyncio.gather(*pending)
    return sent


async def view(base_url: str, contest: str, stop: asyncio.Event, traffic: Traffic) -> None:
    """One viewer on the board's stream until `stop`, noting each frame's arrival beside the tally time it shows."""
    url = f"{base_url}/api/v1/contests/{contest}/leaderboard/stream"
    seen: list[tuple[float, float]] = []
    traffic.frames.append(seen)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
        async with http.get(url) as response:
            if response.status != 200:
                traffic.viewer_errors[f"HTTP {response.status}"] += 1
                return
            reading = asyncio.ensure_future(frames_of(response.content, seen))
            waiting = asyncio.ensure_future(stop.wait())
            await asyncio.wait({reading, waiting}, return_when=asyncio.FIRST_COMPLETED)
            for task in (reading, waiting):
                task.cancel()


async def frames_of(stream: aiohttp.StreamReader, seen: list[tuple[float, float]]) -> None:
    async for raw in stream:
        line = raw.decode(errors="replace")
        if not line.startswith("data:"):
            continue
        updated = json.loads(line[5:]).get("updated_at")
        if updated:
            seen.append((time.time(), datetime.fromisoformat(updated).timestamp()))
