"""The SMS channel's rows: inbound messages (deduped on AT's id), outbound messages (one per order or
inbound and kind), opt-outs.

The statements every SMS vote makes (its message kept, then read back with its short code's keywords and its number's
opt-out in one statement; each text's row claimed and its answer noted, as USSD's receipts' are:
channels.phone.text_rows; the message's outcome) are `DriverStatement`s, each committed on its own on an autocommit
connection: through an ORM session each cost a worker more than the statement costs PostgreSQL (the session's
bookkeeping, BEGIN and COMMIT round trips)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert

from channels.phone.text_rows import TextRows
from channels.sms.forms import DeliveryReport, Inbound
from channels.sms.models import SmsContest, SmsInbound, SmsMessage, SmsOptOut
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection

INBOUND_PARAMETERS = ("new_at_id", "new_msisdn", "new_short_code", "new_text", "new_sent_at", "new_link_id",
                      "new_network_code")
NEW_INBOUND = DriverStatement(insert(SmsInbound).values(
    at_id=bindparam("new_at_id"), msisdn=bindparam("new_msisdn"), short_code=bindparam("new_short_code"),
    text=bindparam("new_text"), sent_at=bindparam("new_sent_at"), link_id=bindparam("new_link_id"),
    network_code=bindparam("new_network_code"),
).on_conflict_do_nothing(index_elements=["at_id"]).returning(SmsInbound.id), INBOUND_PARAMETERS)
KEYWORDED = (SmsContest.short_code == SmsInbound.short_code, SmsContest.keyword.is_not(None), SmsContest.keyword != "")
RECEIVED = DriverStatement(select(
    SmsInbound.id, SmsInbound.at_id, SmsInbound.msisdn, SmsInbound.short_code, SmsInbound.text, SmsInbound.link_id,
    select(func.array_agg(aggregate_order_by(SmsContest.contest_id, SmsContest.contest_id)))
    .where(*KEYWORDED).scalar_subquery().label("contest_ids"),
    select(func.array_agg(aggregate_order_by(SmsContest.keyword, SmsContest.contest_id)))
    .where(*KEYWORDED).scalar_subquery().label("keywords"),
    exists().where(SmsOptOut.msisdn == SmsInbound.msisdn).label("opted_out"),
).where(SmsInbound.id == bindparam("inbound"), SmsInbound.handled_at.is_(None)), ("inbound",))
NOTE_OUTCOME = DriverStatement(update(SmsInbound).where(SmsInbound.id == bindparam("inbound")).values(
    outcome=bindparam("new_outcome"), order_id=bindparam("new_order_id"), handled_at=bindparam("new_handled_at")),
    ("inbound", "new_outcome", "new_order_id", "new_handled_at"))
OUTGOING = TextRows(SmsMessage, ("order_id", "inbound_id", "notice_id"))


async def keep_inbound(sessions: Sessions, message: Inbound) -> int | None:
    """The new row's id; None when AT already delivered this `id` (its retries, or a replay)."""
    async with autocommit_connection(sessions) as connection:
        row = await NEW_INBOUND.fetchrow(connection, dict(zip(INBOUND_PARAMETERS, (
            message.at_id, message.msisdn, message.short_code, message.text, message.sent_at, message.link_id,
            message.network_code), strict=True)))
    return None if row is None else int(row["id"])


@dataclass(frozen=True)
class Received:
    """An inbound message as its job reads it, with its short code's keywords and whether its number opted out."""

    id: int
    at_id: str
    msisdn: str
    short_code: str
    text: str
    link_id: str | None
    keywords: dict[int, str]  # the keyword of each contest texted at its short code (a contest needs both)
    opted_out: bool  # the number sent STOP: no replies (receipts still go)


async def received(sessions: Sessions, inbound_id: int) -> Received | None:
    """The message to answer, read in one statement; None once it was handled (a job run twice answers once)."""
    async with autocommit_connection(sessions) as connection:
        row = await RECEIVED.fetchrow(connection, {"inbound": inbound_id})
    if row is None:
        return None
    keywords = dict(zip(row["contest_ids"] or (), row["keywords"] or (), strict=True))
    return Received(row["id"], row["at_id"], row["msisdn"], row["short_code"], row["text"], row["link_id"],
                    keywords, row["opted_out"])


async def note_outcome(sessions: Sessions, inbound_id: int, outcome: str, order_id: uuid.UUID | None = None) -> None:
    async with autocommit_connection(sessions) as connection:
        await NOTE_OUTCOME.fetchrow(connection, {"inbound": inbound_id, "new_outcome": outcome,
                                                 "new_order_id": order_id, "new_handled_at": datetime.now(UTC)})


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
    """The row to send now: a new one, or one a failed run left `unsent`. None when this order, inbound or notice
    already has a message of this kind that went out (or is going out)."""
    owner = ({"order_id": message.order_id} if message.order_id is not None
             else {"notice_id": message.notice_id} if message.notice_id is not None
             else {"inbound_id": message.inbound_id})
    return await OUTGOING.claim(sessions, owner, message.kind, message.msisdn, message.text)


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


async def unhandled(sessions: Sessions, *, older_than: timedelta, within: timedelta, limit: int = 200) -> list[int]:
    """Inbound messages kept but never handled (their job was lost: Redis away when they came)."""
    now = datetime.now(UTC)
    async with sessions() as session:
        rows = await session.scalars(
            select(SmsInbound.id).where(SmsInbound.handled_at.is_(None), SmsInbound.received_at < now - older_than,
                                        SmsInbound.received_at > now - within)
            .order_by(SmsInbound.id).limit(limit))
        return list(rows)
