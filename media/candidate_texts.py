"""The texts candidates get: the organiser's decision on their entry, and the one-time codes of entering. Both go
out from the worker's jobs, through the channel that texts phones."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from gateway.core.entries import entry_texts
from gateway.db.models import Candidate, Contest, ContestStatus, Entry, EntryStatus
from media.job_resources import MediaJobResources

log = logging.getLogger(__name__)
TEXTING_CHANNEL = "sms"


async def on_entry_decided(ctx: MediaJobResources, payload: dict[str, Any]) -> None:
    """Text the candidate the organiser's decision (once: the SMS channel keeps one message per notice)."""
    texter = ctx.texters.get(TEXTING_CHANNEL)
    entry_id = uuid.UUID(str(payload["entry_id"]))
    async with ctx.sessions() as session:
        entry = await session.get(Entry, entry_id)
        contest = await session.get(Contest, entry.contest_id) if entry else None
        candidate = await session.get(Candidate, entry.candidate_id) if entry and entry.candidate_id else None
    if entry is None or contest is None or texter is None:
        log.warning("entry %s decided but nobody can be texted", entry_id)
        return
    if entry.status is EntryStatus.APPROVED and candidate is not None:
        link = f"{ctx.settings.public_base_url.rstrip('/')}/c/{contest.slug}/{candidate.code}"
        text = entry_texts.approved_text(entry.language, contest.name, candidate.code, link,
                                         live=contest.status is not ContestStatus.DRAFT)
    else:
        text = entry_texts.rejected_text(entry.language, contest.name, entry.reason or "")
    await texter(entry.msisdn, text, entry.id, f"entry-{entry.status.value}")


async def text_code(ctx: MediaJobResources, msisdn: str, text: str, notice_id: str) -> None:
    texter = ctx.texters.get(TEXTING_CHANNEL)
    if texter is None:
        log.warning("no channel texts phones: the code for %s is not sent", msisdn[:-4] + "****")
        return
    await texter(msisdn, text, uuid.UUID(notice_id), "code")
