"""An entry fee given back after its entry was approved, whatever the path (the provider's refund, a card's
chargeback, an owner's refund by hand or through the provider): the candidate leaves the public contest in the
same transaction, off the menus and the board, no more votes, its clip withheld, and the audit says why."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from assembly.worker.job_runtime import JobContext
from gateway.core.entries.entries_review import approve_entries
from gateway.core.media import uploads
from gateway.core.money_in import chargebacks
from gateway.core.orders import refunding
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate, CandidateStatus, OrderStatus, OutboxMessage
from tests.core.entries.test_entering import OWNER
from tests.core.entries.test_entry_fee import entered, fee_order, pay
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn, callback, paid_body
from tests.media.conftest import Entering

Refund = Callable[[Sessions, uuid.UUID], Awaitable[object]]
PATHS: dict[str, Refund] = {
    "the provider's refund": lambda sessions, order_id: refunding.settle_refund(sessions, order_id, None, None,
                                                                               "mtn-refund-1"),
    "a chargeback": lambda sessions, order_id: chargebacks.record_chargeback(sessions, order_id),
    "an owner's refund by hand": lambda sessions, order_id: refunding.uncount(
        sessions, order_id, OrderStatus.REFUNDED, "refunded by hand"),
    "an owner's refund owed by the provider": lambda sessions, order_id: refunding.uncount(
        sessions, order_id, OrderStatus.REFUND_REQUESTED, "Refund owed: mtn sends it back by itself."),
}


@pytest.mark.parametrize("path", list(PATHS))
async def test_a_refunded_fee_takes_its_approved_candidate_out_of_the_contest(
        path: str, entering: Entering, media_job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn,
        sessions: Sessions, tmp_path: Path) -> None:
    slug, entry = await entered(entering, media_job, fake_at, sessions, tmp_path)
    order = await fee_order(entering, sessions, await pay(entering, entry, "mtn"))
    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    assert await callback(entering.web, order.id, paid_body(order)) == 200
    [candidate] = await approve_entries(sessions, media_job.media, OWNER,  # type: ignore[arg-type]
                                        [uuid.UUID(entry["entry_id"])], datetime.now(UTC))
    listed = await (await entering.web.get(f"/api/v1/contests/{slug}")).json()
    assert candidate.code in [c["code"] for c in listed["candidates"]]

    await PATHS[path](sessions, order.id)

    async with sessions() as session:
        status = await session.scalar(select(Candidate.status).where(Candidate.id == candidate.id))
        audited = (await session.execute(select(AuditEntry.actor, AuditEntry.details).where(
            AuditEntry.action == "candidate.withdrawn", AuditEntry.target == f"candidate:{candidate.id}"))).all()
        told = await session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.topic == uploads.MEDIA_ACCESS_TOPIC,
            OutboxMessage.payload["upload_id"].astext == str(candidate.clip_id)))
    assert status is CandidateStatus.HIDDEN
    [(actor, details)] = audited
    assert actor == "system" and details["order"] == str(order.id) and details["entry"] == entry["entry_id"]
    assert told is not None and candidate.clip_id is not None
    assert not await uploads.served_publicly(sessions, candidate.clip_id)  # the media server refuses its clip
    listed = await (await entering.web.get(f"/api/v1/contests/{slug}")).json()
    assert candidate.code not in [c["code"] for c in listed["candidates"]]
    # The board is read for the first time here (a web process keeps who is on it for a few seconds).
    board = await (await entering.web.get(f"/api/v1/contests/{slug}/leaderboard")).json()
    assert board["candidates"] and candidate.code not in [c["code"] for c in board["candidates"]]
    vote = await entering.web.post(f"/api/v1/contests/{slug}/votes", json={
        "candidate": candidate.code, "quantity": 1, "provider": "mtn", "msisdn": "+237670004401"})
    assert vote.status == 422 and (await vote.json())["error"]["code"] == "candidate_not_found"

    await PATHS[path](sessions, order.id)  # told again (a provider repeating itself): nothing more
    async with sessions() as session:
        assert len((await session.execute(select(AuditEntry.id).where(
            AuditEntry.action == "candidate.withdrawn"))).all()) == 1
