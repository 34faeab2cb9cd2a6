"""The SMS channel's rows: inbound messages (deduped on AT's id), outbound messages (one per order or
inbound and kind), opt-outs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from channels.sms.forms import DeliveryReport, Inbound
from channels.sms.models import SmsContest, SmsInbound, SmsMessage, SmsOptOut
from gateway.db.engine import Sessions


async def keep_inbound(sessions: Sessions, message: Inbound) -> int | None:
    """The new row's id; None when AT already delivered this `id` (its retries, or a replay)."""
    async with sessions.begin() as session:
        return await session.scalar(
            insert(SmsInbound).values(
                at_id=message.at_id, msisdn=message.msisdn, short_code=message.short_code, text=message.text,
                sent_at=message.sent_at, link_id=message.link_id, network_code=message.network_code,
            ).on_conflict_do_nothing(index_elements=["at_id"]).returning(SmsInbound.id))


async def keywords_on(sessions: Sessions, short_code: str) -> dict[int, str]:
    """The keyword of each contest texted at `short_code` (contest id -> keyword; a contest needs both)."""
    async with sessions() as session:
        rows = await session.execute(select(SmsContest.contest_id, SmsContest.keyword).where(
            SmsContest.short_code == short_code, SmsContest.keyword.is_not(None), SmsContest.keyword != ""))
        return {contest_id: keyword for contest_id, keyword in rows.all() if keyword}


async def inbound(sessions: Sessions, inbound_id: int) -> SmsInbound | None:
    async with sessions() as session:
        return await session.get(SmsInbound, inbound_id)


async def note_outcome(sessions: Sessions, inbound_id: int, outcome: str, order_id: uuid.UUID | None = None) -> None:
    async with sessions.begin() as session:
        await session.execute(update(SmsInbound).where(SmsInbound.id == inbound_id).values(
            outcome=outcome, order_id=order_id, handled_at=datetime.now(UTC)))


@dataclass(frozen=True)
class Outgoing:
    """A message owed: exactly one of `order_id` / `inbound_id` / `notice_id` names what it answers."""

    kind: str
    msisdn: str
    text: str
    order_id: uuid.UUID | None = None
    inbound_id: int | None = None
    notice_id: uuid.UUID | None = None


async def claim_outgoing(sessions: Sessions, message: Outgoing) -> int | None:
    """The row to send now: a new one, or one a failed run left `unsent`. None when this order or inbound
    already has a message of this kind that went out (or is going out)."""
    async with sessions.begin() as session:
        created: int | None = await session.scalar(
            insert(SmsMessage).values(
                order_id=message.order_id, inbound_id=message.inbound_id, notice_id=message.notice_id,
                kind=message.kind, msisdn=message.msisdn,
                text=message.text, status="queued",
            ).on_conflict_do_nothing().returning(SmsMessage.id))
        if created is not None:
            return created
        owner = (SmsMessage.order_id == message.order_id if message.order_id is not None
                 else SmsMessage.notice_id == message.notice_id if message.notice_id is not None
                 else SmsMessage.inbound_id == message.inbound_id)
        reclaimed: int | None = await session.scalar(
            update(SmsMessage).where(owner, SmsMessage.kind == message.kind, SmsMessage.status == "unsent")
            .values(status="queued", text=message.text).returning(SmsMessage.id))
        return reclaimed


async def note_sent(sessions: Sessions, message_id: int, at_message_id: str | None, status: str,
                    failure_reason: str | None = None) -> None:
    async with sessions.begin() as session:
        await session.execute(update(SmsMessage).where(SmsMessage.id == message_id).values(
            at_message_id=at_message_id, status=status, failure_reason=failure_reason))


async def note_delivery(sessions: Sessions, report: DeliveryReport) -> bool:
    """Apply AT's delivery report to the message it names; False for an id we never sent."""
    async with sessions.begin() as session:
        found = await session.scalar(
            update(SmsMessage).where(SmsMessage.at_message_id == report.at_message_id)
            .values(status=report.status, failure_reason=report.failure_reason).returning(SmsMessage.id))
    return found is not None


async def opt_out(sessions: Sessions, msisdn: str) -> None:
    async with sessions.begin() as session:
        await session.execute(insert(SmsOptOut).values(msisdn=msisdn).on_conflict_do_nothing())


async def opted_out(sessions: Sessions, msisdn: str) -> bool:
    async with sessions() as session:
        return await session.scalar(select(SmsOptOut.msisdn).where(SmsOptOut.msisdn == msisdn)) is not None


async def unhandled(sessions: Sessions, *, older_than: timedelta, within: timedelta, limit: int = 200) -> list[int]:
    """Inbound messages kept but never handled (their job was lost: Redis away when they came)."""
    now = datetime.now(UTC)
    async with sessions() as session:
        rows = await session.scalars(
            select(SmsInbound.id).where(SmsInbound.handled_at.is_(None), SmsInbound.received_at < now - older_than,
                                        SmsInbound.received_at > now - within)
            .order_by(SmsInbound.id).limit(limit))
        return list(rows)
