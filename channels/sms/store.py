"""The SMS channel's rows: inbound messages (deduped on AT's id), outbound messages (one per order or
inbound and kind), opt-outs.

The statements every SMS vote makes (its message kept, its keywords and opt-out read, each text's row claimed and its
answer noted, as USSD's receipts' are: channels.phone.text_rows; the message's outcome) are `DriverStatement`s, each
committed on its own on an autocommit connection: through an ORM session each cost a worker more than the statement
costs PostgreSQL (the session's bookkeeping, BEGIN and COMMIT round trips), and an SMS vote makes seven of them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert

from channels.phone.text_rows import TextRows
from channels.sms.forms import DeliveryReport, Inbound
from channels.sms.models import SmsContest, SmsInbound, SmsMessage, SmsOptOut
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit, autocommit_connection

INBOUND_PARAMETERS = ("new_at_id", "new_msisdn", "new_short_code", "new_text", "new_sent_at", "new_link_id",
                      "new_network_code")
NEW_INBOUND = DriverStatement(insert(SmsInbound).values(
    at_id=bindparam("new_at_id"), msisdn=bindparam("new_msisdn"), short_code=bindparam("new_short_code"),
    text=bindparam("new_text"), sent_at=bindparam("new_sent_at"), link_id=bindparam("new_link_id"),
    network_code=bindparam("new_network_code"),
).on_conflict_do_nothing(index_elements=["at_id"]).returning(SmsInbound.id), INBOUND_PARAMETERS)
KEYWORDS_ON = DriverStatement(select(SmsContest.contest_id, SmsContest.keyword).where(
    SmsContest.short_code == bindparam("short_code"), SmsContest.keyword.is_not(None), SmsContest.keyword != ""),
    ("short_code",))
OPTED_OUT = DriverStatement(select(SmsOptOut.msisdn).where(SmsOptOut.msisdn == bindparam("msisdn")), ("msisdn",))
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


async def keywords_on(sessions: Sessions, short_code: str) -> dict[int, str]:
    """The keyword of each contest texted at `short_code` (contest id -> keyword; a contest needs both)."""
    async with autocommit_connection(sessions) as connection:
        rows = await KEYWORDS_ON.fetch(connection, {"short_code": short_code})
    return {row["contest_id"]: row["keyword"] for row in rows if row["keyword"]}


async def inbound(sessions: Sessions, inbound_id: int) -> SmsInbound | None:
    async with autocommit(sessions) as session:
        return await session.get(SmsInbound, inbound_id)


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


async def opted_out(sessions: Sessions, msisdn: str) -> bool:
    async with autocommit_connection(sessions) as connection:
        return await OPTED_OUT.fetchrow(connection, {"msisdn": msisdn}) is not None


async def unhandled(sessions: Sessions, *, older_than: timedelta, within: timedelta, limit: int = 200) -> list[int]:
    """Inbound messages kept but never handled (their job was lost: Redis away when they came)."""
    now = datetime.now(UTC)
    async with sessions() as session:
        rows = await session.scalars(
            select(SmsInbound.id).where(SmsInbound.handled_at.is_(None), SmsInbound.received_at < now - older_than,
                                        SmsInbound.received_at > now - within)
            .order_by(SmsInbound.id).limit(limit))
        return list(rows)
