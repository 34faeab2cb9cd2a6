"""What Daraja said of a reversal or B2C payment of ours, kept until the worker reads it.

Daraja posts the outcome to the ResultURL we gave (or, when its queue gave up on the request, to the
QueueTimeOutURL), each carrying the reference's secret (`payments.mpesa.callback_secret`). The route keeps what came
(`keep_result`, `keep_time_out`) in Redis, where every web process and worker sees it, and `refund_status` /
`payout_status` read it: a result decides, a time-out with no result says Daraja never carried the request out
(sent again under the same reference), an acceptance with no word yet is pending. Its only status call, the
Transaction Status query (`payments.mpesa.transaction_status`), is itself answered on a URL of ours: that answer is
kept apart (`keep_status`, under a key of its own, so it never races the result), until the worker reads it.
Without Redis (a one-off command, a test) a process keeps them alone."""

from __future__ import annotations

import json
import uuid
from typing import Any

from redis.asyncio import Redis

KEPT_FOR_SECONDS = 30 * 86_400  # long past any result Daraja still sends


def key_of(reference: uuid.UUID) -> str:
    return f"mpesa:outgoing:{reference}"


def status_key_of(reference: uuid.UUID) -> str:
    return f"mpesa:outgoing-status:{reference}"


class OutgoingResults:
    """Each reference's word from Daraja: {"tried": epoch seconds} (a payout sent once, its answer not in) |
    {"accepted": ConversationID, "originator": OriginatorConversationID, "at": epoch seconds} | {"timed_out": true} |
    {"result": {...}}; and apart, what its status query found:
    {"asked_at": epoch seconds} | {"asked_at": ..., "result": {...}}."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._here: dict[str, dict[str, Any]] = {}

    async def word(self, reference: uuid.UUID) -> dict[str, Any]:
        return await self._read(key_of(reference))

    async def _read(self, key: str) -> dict[str, Any]:
        if self._redis is None:
            return dict(self._here.get(key, {}))
        raw = await self._redis.get(key)
        found = json.loads(raw) if raw else {}
        return found if isinstance(found, dict) else {}

    async def _keep(self, reference: uuid.UUID, word: dict[str, Any], key: str | None = None) -> None:
        key = key or key_of(reference)
        if self._redis is None:
            self._here[key] = word
            return
        await self._redis.set(key, json.dumps(word), ex=KEPT_FOR_SECONDS)

    async def accepted(self, reference: uuid.UUID, conversation: str, originator: str, at: float) -> None:
        """Daraja took the request in (a new status query is owed for it); a result it already sent is never
        overwritten."""
        if "result" not in await self.word(reference):
            await self._keep(reference, {"accepted": conversation, "originator": originator, "at": at})
            await self.forget_status(reference)

    async def tried(self, reference: uuid.UUID, at: float) -> None:
        """A request is about to go out (the first time, or again after Daraja's queue gave up on it): should its
        answer be lost, Daraja may have it. Never over a result or an acceptance."""
        word = await self.word(reference)
        if "result" not in word and "accepted" not in word:
            await self._keep(reference, {"tried": at})

    async def untried(self, reference: uuid.UUID) -> None:
        """It never left: nothing of it is at Daraja."""
        if set(await self.word(reference)) == {"tried"}:
            await self._forget(key_of(reference))

    async def _forget(self, key: str) -> None:
        if self._redis is None:
            self._here.pop(key, None)
        else:
            await self._redis.delete(key)

    async def status(self, reference: uuid.UUID) -> dict[str, Any]:
        return await self._read(status_key_of(reference))

    async def asked(self, reference: uuid.UUID, at: float) -> None:
        """A status query was sent: its answer is awaited (an earlier one's is dropped)."""
        await self._keep(reference, {"asked_at": at}, status_key_of(reference))

    async def keep_status(self, reference: uuid.UUID, result: dict[str, Any]) -> None:
        """The status query's Result, where one was asked (a late copy after it was read is not kept)."""
        word = await self.status(reference)
        if "asked_at" in word and "result" not in word:
            await self._keep(reference, {**word, "result": result}, status_key_of(reference))

    async def forget_status(self, reference: uuid.UUID) -> None:
        if self._redis is None:
            self._here.pop(status_key_of(reference), None)
        else:
            await self._redis.delete(status_key_of(reference))

    async def keep_result(self, reference: uuid.UUID, result: dict[str, Any]) -> None:
        """The first result decides: a later copy (or a contradicting one) is not taken over it."""
        if "result" not in await self.word(reference):
            await self._keep(reference, {"result": result})

    async def keep_time_out(self, reference: uuid.UUID) -> None:
        """The queue gave up on the request: it is to be sent again, unless a result came meanwhile."""
        if "result" not in await self.word(reference):
            await self._keep(reference, {"timed_out": True})
