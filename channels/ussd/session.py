"""USSD state in Redis. An optimisation, never the truth: the `text` path decides every screen, so a
lost record only costs a database read. What it buys: the reply to each (sessionId, text) kept so a
telco retry gets the identical screen, and the caller's facts read once per session."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from gateway.core.contests.catalog import PublicCandidate, PublicContest
from gateway.core.contests.price_tiers import PriceTier
from gateway.core.texts import Lang
from gateway.db.models import CandidateStatus, ContestStatus

SESSION_TTL_SECONDS = 200  # AT ends a session after ~180 s
CONTESTS_TTL_SECONDS = 5  # contests per service code; the vote core re-checks everything anyway
ACTION_LOCK_MS = 10_000
REPLY_PREFIX = "reply:"


@dataclass(frozen=True)
class SessionRecord:
    msisdn: str
    preference: Lang | None  # the number's remembered language when the session began
    slugs: tuple[str, ...]  # the open contests listed for the code when the session began


@dataclass(frozen=True)
class Recalled:
    record: SessionRecord | None
    reply: str | None  # the body already sent for this exact `text`
    contests: tuple[PublicContest, ...] | None  # None: not cached (or expired)


def session_key(session_id: str) -> str:
    return f"ussd:session:{session_id}"


def claim_key(session_id: str) -> str:
    return f"ussd:lock:{session_id}"


def contests_key(service_code: str) -> str:
    return f"ussd:code:{service_code}"


TIMES = ("opens_at", "closes_at", "board_frozen_at")


def contest_to_json(contest: PublicContest) -> dict[str, Any]:
    """A contest as the code's cache keeps it (plain JSON values)."""
    data: dict[str, Any] = {name: value for name, value in vars(contest).items() if name != "candidates"}
    data.update({name: data[name].isoformat() if data[name] else None for name in TIMES})
    data.update(providers=list(contest.providers), status=contest.status.value)
    data["candidates"] = [[c.id, c.code, c.name, c.status.value, c.photo_url, c.bio] for c in contest.candidates]
    data["price_tiers"] = [[tier.votes, tier.amount] for tier in contest.price_tiers]
    return data


def contest_from_json(data: dict[str, Any]) -> PublicContest:
    values = {**data, **{name: datetime.fromisoformat(data[name]) if data[name] else None for name in TIMES}}
    values.pop("ussd_service_codes", None)  # cached by a release whose contests still carried their codes
    candidates = tuple(PublicCandidate(id_, code, name, CandidateStatus(status), photo, bio)
                       for id_, code, name, status, photo, bio in data["candidates"])
    return PublicContest(**{**values, "status": ContestStatus(data["status"]), "providers": tuple(data["providers"]),
                            "candidates": candidates,
                            "price_tiers": tuple(PriceTier(votes, amount)
                                                 for votes, amount in data.get("price_tiers", ()))})


# A hop's reads and its write, each one command rather than a pipeline: redis-py's pipeline costs a web process more
# of its own CPU than the commands it carries (its reset shields the connection's release in a task of its own), and
# a USSD session makes two of them at every hop. A missing field or key is Lua's false in the script and reaches the
# client as nil (None), RESP2 or RESP3: scripts answer in RESP2 unless they ask otherwise.
_RECALL = """
local fields = redis.call('HMGET', KEYS[1], 'msisdn', 'preference', 'slugs', ARGV[1])
return {fields[1] or false, fields[2] or false, fields[3] or false, fields[4] or false,
        redis.call('GET', KEYS[2])}
"""
_REMEMBER = """
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
return 1
"""


def text_of(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class SessionStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def recall(self, session_id: str, text: str, service_code: str) -> Recalled:
        """The session's record, the reply already given to this `text`, and the code's cached contests:
        one command."""
        found = await self._redis.eval(_RECALL, 2, session_key(session_id), contests_key(service_code),
                                       REPLY_PREFIX + text)
        msisdn, preference, slugs, reply, contests = found
        record = None
        if msisdn is not None and slugs is not None:
            record = SessionRecord(text_of(msisdn), Lang.parse(text_of(preference or b"")), tuple(json.loads(slugs)))
        cached = tuple(contest_from_json(item) for item in json.loads(contests)) if contests else None
        return Recalled(record, text_of(reply) if reply is not None else None, cached)

    async def remember(self, session_id: str, record: SessionRecord, text: str, body: str, *,
                       release: bool = False) -> None:
        """Store the reply to `text`; with `release`, give up the session's claim in the same command."""
        preference = record.preference.value if record.preference else ""
        await self._redis.eval(_REMEMBER, 2, session_key(session_id), claim_key(session_id), SESSION_TTL_SECONDS,
                               int(release), "msisdn", record.msisdn, "preference", preference,
                               "slugs", json.dumps(list(record.slugs)), REPLY_PREFIX + text, body)

    async def reply(self, session_id: str, text: str) -> str | None:
        value = await self._redis.hget(session_key(session_id), REPLY_PREFIX + text)
        return text_of(value) if value is not None else None

    async def claim(self, session_id: str) -> bool:
        """Only one request of a session places its order at a time (concurrent telco retries)."""
        return bool(await self._redis.set(claim_key(session_id), "1", nx=True, px=ACTION_LOCK_MS))

    async def release(self, session_id: str) -> None:
        await self._redis.delete(claim_key(session_id))

    async def wait_reply(self, session_id: str, text: str, timeout: float) -> str | None:
        """The reply a concurrent request for the same hop is about to store, if it comes in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if (body := await self.reply(session_id, text)) is not None:
                return body
            await asyncio.sleep(0.02)
        return None

    async def cache_contests(self, service_code: str, records: tuple[PublicContest, ...]) -> None:
        payload = json.dumps([contest_to_json(record) for record in records])
        await self._redis.set(contests_key(service_code), payload, ex=CONTESTS_TTL_SECONDS)
