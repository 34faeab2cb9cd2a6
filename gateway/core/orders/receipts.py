"""Receipts: the message a voter gets once their order is decided, on the channel they voted from.

USSD and the web show the outcome on their own screens; a voter of a channel whose voter waits for a
message (a text message, a chat) is told by one. The core says *when* (an outbox row committed with the
decision: `order.paid` from the counting statement, or `order.late` where it came after the lines closed and their
grace, `order.failed` and `order.expired` from closing a pending order) and *what* (a `Receipt`); each messaging
channel says *how* with a `ReceiptSender`, which the assembly registers per channel. A sender must be
idempotent per order and kind: a relay or a job may run twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import bindparam, select

from gateway.core.contests.catalog import ORDER_COLUMNS, VoterOrder
from gateway.core.providers import Capability, Providers
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection
from gateway.db.models import Candidate, Contest, VoteOrder

log = logging.getLogger(__name__)

PAID_RECEIPT_TOPIC = "order.paid"
LATE_RECEIPT_TOPIC = "order.late"  # paid after the lines closed: not counted, being refunded (contests.late_votes)


class ReceiptKind(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    LATE = "late"  # the lines had closed: not counted, the payment is being refunded


RECEIPT_TOPICS: Mapping[str, ReceiptKind] = {
    PAID_RECEIPT_TOPIC: ReceiptKind.PAID,
    "order.failed": ReceiptKind.FAILED,
    "order.expired": ReceiptKind.EXPIRED,
    LATE_RECEIPT_TOPIC: ReceiptKind.LATE,
}


@dataclass(frozen=True)
class Receipt:
    """What a receipt may say, and where it goes (the payer's number unmasked: it is the address)."""

    kind: ReceiptKind
    order: VoterOrder
    contest_name: str
    payer_msisdn: str | None
    voter_ref: str | None  # the channel's own address of the voter (e.g. a chat)
    language: str  # the voter's own where their channel told us at placement, else the contest's default
    provider_label: str = ""  # its provider's name as payers know it (`Providers.label`), for the channels to say


class ReceiptSender(Protocol):
    async def __call__(self, receipt: Receipt) -> None: ...


def shown_to_voter(order: VoterOrder, providers: Providers) -> VoterOrder:
    """The order with its provider's receipt code only where its provider's payers are given that code
    (`Capability.RECEIPT_CODE`: M-Pesa's receipt number, the proof a voter quotes); a card's payment id is none."""
    if order.receipt_code and Capability.RECEIPT_CODE not in providers.capabilities(order.provider):
        return replace(order, receipt_code=None)
    return order


# Read for every receipt a worker sends (two votes in three, on a show night): run by the driver, its columns named,
# as a vote's own hot statements are (gateway/db/driver_statements.py); an ORM session and a whole order cost the
# relay's workers more than the read itself.
RECEIPT_OF_ORDER = DriverStatement(
    select(*(getattr(VoteOrder, name) for name in ORDER_COLUMNS), VoteOrder.voter_ref, VoteOrder.language,
           Contest.slug.label("contest_slug"), Candidate.code.label("candidate_code"),
           Candidate.name.label("candidate_name"), Contest.name.label("contest_name"),
           Contest.default_language.label("contest_language"))
    .join(Contest, Contest.id == VoteOrder.contest_id)
    .join(Candidate, Candidate.id == VoteOrder.candidate_id)
    .where(VoteOrder.id == bindparam("order_id")), ("order_id",))


async def load_receipt(sessions: Sessions, order_id: uuid.UUID, kind: ReceiptKind) -> Receipt | None:
    async with autocommit_connection(sessions) as connection:
        found = await RECEIPT_OF_ORDER.fetchrow(connection, {"order_id": order_id})
        if found is None:
            return None
        row = RECEIPT_OF_ORDER.typed(connection, found)
    order = VoterOrder.of_columns(row, row["contest_slug"], row["candidate_code"], row["candidate_name"])
    return Receipt(kind, order, row["contest_name"], row["voter_msisdn"], row["voter_ref"],
                   row["language"] or row["contest_language"])


async def send_receipt(sessions: Sessions, senders: Mapping[str, ReceiptSender], topic: str,
                       payload: Mapping[str, Any], providers: Providers) -> bool:
    """Hand one decided order to its channel's sender; False when its channel sends none."""
    kind = RECEIPT_TOPICS[topic]
    receipt = await load_receipt(sessions, uuid.UUID(str(payload["order_id"])), kind)
    if receipt is None:
        log.warning("receipt %s for an unknown order %s", kind, payload.get("order_id"))
        return False
    receipt = replace(receipt, order=shown_to_voter(receipt.order, providers),
                      provider_label=providers.label(receipt.order.provider))
    sender = senders.get(receipt.order.channel)
    if sender is None:
        return False
    await sender(receipt)
    return True
