"""What Daraja said of a reversal or B2C payment of ours, kept until the worker reads it.

Daraja has no status call for them: it posts the outcome to the ResultURL we gave (or, when its queue gave up on
the request, to the QueueTimeOutURL), each carrying the reference's secret (`payments.mpesa.callback_secret`). The
route keeps what came (`keep_result`, `keep_time_out`) in Redis, where every web process and worker sees it, and
`refund_status` / `payout_status` read it: a result decides, a time-out with no result says Daraja never carried
the request out (sent again under the same reference), an acceptance with no word yet is pending. Without Redis
(a one-off command, a test) a process keeps them alone."""

from __future__ import annotations

import json
import uuid
from typing import Any

from redis.asyncio import Redis

KEPT_FOR_SECONDS = 30 * 86_400  # long past any result Daraja still sends


def key_of(reference: uuid.UUID) -> str:
    return f"mpesa:outgoing:{reference}"


class OutgoingResults:
    """Each reference's word from Daraja: {"accepted": ConversationID} | {"timed_out": true} | {"result": {...}}."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._here: dict[str, dict[str, Any]] = {}

    async def word(self, reference: uuid.UUID) -> dict[str, Any]:
        if self._redis is None:
            return dict(self._here.get(key_of(reference), {}))
        raw = await self._redis.get(key_of(reference))
        found = json.loads(raw) if raw else {}
        return found if isinstance(found, dict) else {}

    async def _keep(self, reference: uuid.UUID, word: dict[str, Any]) -> None:
        if self._redis is None:
            self._here[key_of(reference)] = word
            return
        await self._redis.set(key_of(reference), json.dumps(word), ex=KEPT_FOR_SECONDS)

    async def accepted(self, reference: uuid.UUID, conversation: str) -> None:
        """Daraja took the request in; a result it already sent is never overwritten."""
        if "result" not in await self.word(reference):
            await self._keep(reference, {"accepted": conversation})

    async def keep_result(self, reference: uuid.UUID, result: dict[str, Any]) -> None:
        """The first result decides: a later copy (or a contradicting one) is not taken over it."""
        if "result" not in await self.word(reference):
            await self._keep(reference, {"result": result})

    async def keep_time_out(self, reference: uuid.UUID) -> None:
        """The queue gave up on the request: it is to be sent again, unless a result came meanwhile."""
        if "result" not in await self.word(reference):
            await self._keep(reference, {"timed_out": True})
