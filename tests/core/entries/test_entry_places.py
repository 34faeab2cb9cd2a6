"""A call's `max_entries` places: in a call with a fee, an entry sent and never paid keeps its place for an hour
(the time to pay), then only while a payment of its fee waits; a paid entry keeps it. Two candidates taking the
last place at once: one gets it, the other is told the call is full."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from assembly.web.keys import STARTS
from assembly.worker.job_runtime import JobContext
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import Contest, Entry, OrderStatus
from tests.core.entries.test_entering import open_call, proven, upload
from tests.core.entries.test_entry_fee import FEE, fee_order, pay
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn, callback, paid_body
from tests.media.conftest import Entering
from tests.media.test_processing import make_clip

AWA, BEN = "+237670003301", "+237670003302"


async def send(entering: Entering, slug: str, proof: str, clip_id: str, name: str) -> Any:
    return await entering.web.post(f"/api/v1/contests/{slug}/entries", json={
        "proof": proof, "name": name, "rules_accepted": True, "clip_id": clip_id, "language": "en"})


async def grant_code(entering: Entering, slug: str, proof: str) -> tuple[int, str | None]:
    granted = await entering.web.post(f"/api/v1/contests/{slug}/entries/uploads", json={"proof": proof,
                                                                                           "kind": "clip"})
    body = await granted.json()
    return granted.status, body.get("error", {}).get("code")


async def sent_hours_ago(sessions: Sessions, entry_id: str, hours: float) -> None:
    async with sessions.begin() as session:
        await session.execute(update(Entry).where(Entry.id == uuid.UUID(entry_id)).values(
            rules_accepted_at=datetime.now(UTC) - timedelta(hours=hours)))


async def awas_entry(entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions,
                     tmp_path: Path) -> tuple[Contest, dict[str, Any]]:
    """A call with a fee and one place, and Awa's entry sent to it (not paid)."""
    contest = await open_call(sessions, fee_amount=FEE, max_entries=1)
    awa = await proven(entering, media_job, fake_at, contest.slug, AWA)
    awas = await (await send(entering, contest.slug, awa, await upload(entering, contest.slug, awa, make_clip(
        tmp_path / "a.mp4").read_bytes()), "Awa")).json()
    return contest, awas


async def test_an_unpaid_entry_gives_its_place_back_an_hour_after_it_was_sent(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn, sessions: Sessions,
        tmp_path: Path) -> None:
    contest = await open_call(sessions, fee_amount=FEE, max_entries=1)
    awa = await proven(entering, media_job, fake_at, contest.slug, AWA)
    sent = await send(entering, contest.slug, awa, await upload(entering, contest.slug, awa, make_clip(
        tmp_path / "a.mp4").read_bytes()), "Awa")
    assert sent.status == 201, await sent.text()
    awas = await sent.json()
    ben = await proven(entering, media_job, fake_at, contest.slug, BEN)
    assert await grant_code(entering, contest.slug, ben) == (409, "entries_full")  # Awa has the hour to pay

    await sent_hours_ago(sessions, awas["entry_id"], 1.5)  # and did not pay
    bens_clip = await upload(entering, contest.slug, ben, make_clip(tmp_path / "b.mp4").read_bytes())
    assert (await send(entering, contest.slug, ben, bens_clip, "Ben")).status == 201
    late = await pay(entering, awas, "mtn")  # Ben holds the one place now: Awa's payment would buy nothing
    assert late.status == 409 and "all the entries it takes" in await late.text()
    assert fake_mtn.pay_calls == 0


async def test_a_waiting_payment_keeps_the_place_and_a_paid_entry_keeps_it_for_good(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn, sessions: Sessions,
        tmp_path: Path) -> None:
    contest, awas = await awas_entry(entering, media_job, fake_at, sessions, tmp_path)
    paying = await pay(entering, awas, "mtn")
    assert paying.status == 303, await paying.text()
    order = await fee_order(entering, sessions, paying)
    await sent_hours_ago(sessions, awas["entry_id"], 1.5)
    ben = await proven(entering, media_job, fake_at, contest.slug, BEN)
    assert await grant_code(entering, contest.slug, ben) == (409, "entries_full")  # MTN's prompt is on her phone

    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    assert await callback(entering.web, order.id, paid_body(order)) == 200
    await sent_hours_ago(sessions, awas["entry_id"], 48)
    assert await grant_code(entering, contest.slug, ben) == (409, "entries_full")  # paid: hers for good


async def test_two_candidates_taking_the_last_place_at_once_one_gets_it(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn, sessions: Sessions,
        tmp_path: Path) -> None:
    """Awa's hour ran out; she pays as Ben sends his entry for the one place: one of them has it."""
    contest, awas = await awas_entry(entering, media_job, fake_at, sessions, tmp_path)
    ben = await proven(entering, media_job, fake_at, contest.slug, BEN)
    await sent_hours_ago(sessions, awas["entry_id"], 1.5)
    bens_clip = await upload(entering, contest.slug, ben, make_clip(tmp_path / "b.mp4").read_bytes())
    paid, sent = await asyncio.gather(pay(entering, awas, "mtn"), send(entering, contest.slug, ben, bens_clip, "Ben"))
    await entering.web.app[STARTS].wait_idle()
    assert sorted([paid.status, sent.status]) in ([201, 409], [303, 409]), (paid.status, sent.status)
    async with sessions() as session:
        standing = (await session.execute(select(Entry.msisdn))).scalars().all()
        waiting = (await session.execute(select(tables.ORDERS_TABLE.c.id).where(
            tables.ORDERS_TABLE.c.status == OrderStatus.PENDING))).all()
    assert len(standing) + len(waiting) == 2  # Awa's entry, and either Ben's entry or Awa's payment
