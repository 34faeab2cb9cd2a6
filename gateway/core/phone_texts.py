"""Text messages the service sends a person who is not voting: a one-time code, an entry's decision.

The core says what and to whom; a messaging channel says how (the SMS channel through Africa's Talking), as
receipts do. A texter must send each (notice, kind) once however often a job runs."""

from __future__ import annotations

import uuid
from typing import Protocol

# The worker's pass that texts a one-time code (msisdn, text, notice id), queued by the web processes: texts go out
# from jobs only, through the channel that texts phones.
TEXT_CODE_PASS = "text-code"


class PhoneTexter(Protocol):
    async def __call__(self, msisdn: str, text: str, notice_id: uuid.UUID, kind: str) -> None: ...
