"""An entry fee: the candidate pays it from their entry's page as a vote is paid (MTN, Orange or a card, faked at
the wire), the organiser can approve only a paid entry, and the fee never moves a tally or the vote ledger. A
payment the provider later disowns takes the fee's mark back off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from assembly.resources.providers import build_providers
from assembly.web.keys import STARTS
from assembly.worker.job_runtime import JobContext
from assembly.worker.worker_jobs import reconcile_pass
from gateway.core.entries.entries_review import approve_entries
from gateway.core.errors import Conflict
from gateway.core.orders import tables
from gateway.core.oversight import exports
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.models import Entry, LedgerEntry, OrderStatus, PaymentVerification, VoteOrder
from media.upload_jobs import process_upload
from tests.core.entries.test_entering import OWNER, PHONE, open_call, proven, upload
from tests.factories import assert_tally_invariant, tallies
from tests.fakes.africastalking import FakeAt
from tests.fakes.mtn import FakeMtn, callback, paid_body
from tests.media.conftest import Entering
from tests.media.test_processing import make_clip
from tests.payments.stripe import stripe_checkout
from tests.payments.stripe.card_votes import checkout_session
from tests.waiting import until_true

FEE = 500


async def entered(entering: Entering, job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path,
                  **call: Any) -> tuple[str, dict[str, Any]]:
    """A pending entry whose clip is ready, in a contest whose call asks `call` (a fee by default)."""
    contest = await open_call(sessions, **{"fee_amount": FEE, **call})
    proof = await proven(entering, job, fake_at, contest.slug)
    clip_id = await upload(entering, contest.slug, proof, make_clip(tmp_path / "mine.mp4").read_bytes())
    sent = await entering.web.post(f"/api/v1/contests/{contest.slug}/entries", json={
        "proof": proof, "name": "Awa Nkeng", "rules_accepted": True, "clip_id": clip_id, "language": "en"})
    assert sent.status == 201, await sent.text()
    assert await process_upload(job, uuid.UUID(clip_id)) == "ready"
    return contest.slug, await sent.json()


async def pay(entering: Entering, entry: dict[str, Any], provider: str, msisdn: str = "") -> Any:
    return await entering.web.post(f"/entries/{entry['entry_id']}/fee?lang=en", allow_redirects=False,
                                   data={"t": entry["token"], "provider": provider, "msisdn": msisdn})


async def fee_order(entering: Entering, sessions: Sessions, paying: Any) -> VoteOrder:
    """The fee's order that a payment's redirect names, once its prompt went out."""
    await entering.web.app[STARTS].wait_idle()
    return await tables.get_order(sessions, uuid.UUID(paying.headers["Location"].rsplit("/", 1)[1]))


async def entry_page(entering: Entering, entry: dict[str, Any]) -> str:
    return await (await entering.web.get(entry["link"] + "&lang=en")).text()


async def test_an_entry_is_approved_only_once_its_fee_is_paid_and_the_fee_counts_no_vote(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn, sessions: Sessions,
        tmp_path: Path) -> None:
    slug, entry = await entered(entering, media_job, fake_at, sessions, tmp_path)
    entry_id = uuid.UUID(entry["entry_id"])
    assert "To enter, pay the entry fee of" in await entry_page(entering, entry)
    with pytest.raises(Conflict) as unpaid:
        await approve_entries(sessions, media_job.media, OWNER, [entry_id], datetime.now(UTC))  # type: ignore[arg-type]
    assert unpaid.value.code == "fee_unpaid"

    paying = await pay(entering, entry, "mtn")  # no number typed: the one proven when entering pays
    assert paying.status == 303, await paying.text()
    order_path = paying.headers["Location"]
    await entering.web.app[STARTS].wait_idle()
    order = await tables.get_order(sessions, uuid.UUID(order_path.rsplit("/", 1)[1]))
    assert (order.amount, order.currency, order.voter_msisdn, order.entry_id) == (FEE, "XAF", PHONE, entry_id)
    assert fake_mtn.statuses[str(order.payment_reference)]["amount"] == "500"  # the prompt MTN got
    again = await pay(entering, entry, "mtn")  # a second tap: the same payment, no second prompt
    assert again.headers["Location"] == order_path and fake_mtn.pay_calls == 1
    waiting = await entering.web.get(order_path + "?lang=en")
    assert "to pay your entry fee" in await waiting.text()

    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    assert await callback(entering.web, order.id, paid_body(order)) == 200
    assert "Your entry fee is paid" in await (await entering.web.get(order_path + "?lang=en")).text()
    assert "Your entry fee of" in await entry_page(entering, entry)
    followed = await (await entering.web.get(f"/api/v1/entries/{entry_id}", params={"token": entry["token"]})).json()
    assert followed["fee"] == {"amount": FEE, "currency": "XAF", "paid": True, "providers": ["mtn", "orange", "stripe"],
                               "waiting_order": None}
    [candidate] = await approve_entries(sessions, media_job.media, OWNER,  # type: ignore[arg-type]
                                        [entry_id], datetime.now(UTC))
    contest_id = candidate.contest_id
    assert set((await tallies(sessions, contest_id)).values()) == {0}  # nobody got a vote from the fee
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
        exported = (await session.execute(exports.orders_query(contest_id, exports.Period(None, None)))).one()
    assert exported[5:8] == ("entry fee", 0, FEE)  # the organiser's books: money in, no vote
    assert (await ledger.verify(sessions, contest_id)).clean
    await assert_tally_invariant(sessions, contest_id)
    paid_twice = await pay(entering, entry, "mtn")
    assert paid_twice.status == 409 and "Your entry fee is paid already" in await paid_twice.text()


async def test_one_payment_of_the_fee_waits_at_a_time_and_a_free_call_takes_none(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn, sessions: Sessions,
        tmp_path: Path) -> None:
    slug, entry = await entered(entering, media_job, fake_at, sessions, tmp_path)
    assert (await pay(entering, entry, "mtn", "+237670009999")).status == 303  # another's number may pay
    other = await pay(entering, entry, "stripe")
    assert other.status == 409 and "under way" in await other.text()
    stars = await pay(entering, entry, "stars")
    assert stars.status in (400, 422) and "pay the entry fee" in await stars.text()
    forged = await entering.web.post(f"/entries/{entry['entry_id']}/fee", allow_redirects=False,
                                     data={"t": "not-the-token", "provider": "mtn"})
    assert forged.status == 404
    async with sessions() as session:
        orders = (await session.execute(select(func.count()).select_from(tables.ORDERS_TABLE))).scalar_one()
    assert orders == 1


async def test_entering_a_free_call_asks_no_fee(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    slug, entry = await entered(entering, media_job, fake_at, sessions, tmp_path, fee_amount=None)
    page = await entry_page(entering, entry)
    assert "entry fee" not in page.lower() and 'id="fee-form"' not in page
    refused = await pay(entering, entry, "mtn")
    assert refused.status == 409 and "Entering this contest is free" in await refused.text()
    [candidate] = await approve_entries(sessions, media_job.media, OWNER,  # type: ignore[arg-type]
                                        [uuid.UUID(entry["entry_id"])], datetime.now(UTC))
    assert candidate.name == "Awa Nkeng"


async def test_a_card_fee_goes_to_stripe_checkout_named_as_an_entry_fee(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, sessions: Sessions, tmp_path: Path) -> None:
    slug, entry = await entered(entering, media_job, fake_at, sessions, tmp_path)
    created: dict[str, str] = {}

    def create(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        created.update(form)
        return httpx.Response(200, json=checkout_session(form["client_reference_id"], amount_total=FEE))

    with respx.mock(assert_all_called=False, using="httpx") as stripe_wire:
        stripe_wire.post(f"{stripe_checkout.API}/v1/checkout/sessions").mock(side_effect=create)
        paying = await pay(entering, entry, "stripe")
    assert paying.status == 303 and paying.headers["Location"].startswith("https://checkout.stripe.test/")
    assert created["line_items[0][price_data][product_data][name]"] == "Entry fee - Test Contest"
    assert created["line_items[0][price_data][unit_amount]"] == str(FEE)
    assert created["success_url"].endswith(f"/orders/{created['client_reference_id']}?from=stripe")


async def test_a_fee_the_provider_disowns_is_unpaid_again_and_its_order_flagged(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn, sessions: Sessions,
        redis: Redis, tmp_path: Path) -> None:
    slug, entry = await entered(entering, media_job, fake_at, sessions, tmp_path)
    order = await fee_order(entering, sessions, await pay(entering, entry, "mtn"))
    assert await callback(entering.web, order.id, paid_body(order)) == 200  # the callback says paid; MTN does not
    async with sessions() as session:
        assert (await session.get(Entry, uuid.UUID(entry["entry_id"]))).fee_paid_at is not None  # type: ignore[union-attr]
    fake_mtn.decide(order.payment_reference, "FAILED", reason="PAYER_NOT_FOUND")
    async with sessions.begin() as session:
        await session.execute(update(PaymentVerification).values(due_at=func.now()))
    async with httpx.AsyncClient() as http:  # the worker's pass (or the web process's own verifier) asks MTN
        registry = build_providers(entering.settings, http)
        await reconcile_pass(JobContext(entering.settings, sessions, redis, registry))
        await registry.aclose()
    # Whichever of the two claimed the entry: the web process's verifier may still be at it, on a busy machine long.
    async def flagged() -> bool:
        return (await tables.get_order(sessions, order.id)).status is OrderStatus.FLAGGED

    await until_true(flagged, "the order was never flagged")
    async with sessions() as session:
        assert (await session.get(Entry, uuid.UUID(entry["entry_id"]))).fee_paid_at is None  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        await approve_entries(sessions, media_job.media, OWNER,  # type: ignore[arg-type]
                              [uuid.UUID(entry["entry_id"])], datetime.now(UTC))


async def test_the_fee_is_paid_from_a_number_of_the_contest_s_country_typed_as_its_people_write_it(
        entering: Entering, media_job: JobContext, fake_at: FakeAt, fake_mtn: FakeMtn, sessions: Sessions,
        tmp_path: Path) -> None:
    slug, entry = await entered(entering, media_job, fake_at, sessions, tmp_path)
    kenyan = await pay(entering, entry, "mtn", "+254712000102")  # MTN Cameroon charges no Kenyan wallet
    assert kenyan.status == 422 and "takes numbers of its own country only" in await kenyan.text()
    paying = await pay(entering, entry, "mtn", "6 70 00 99 98")  # a Cameroonian number as Cameroonians write it
    assert paying.status == 303, await paying.text()
    assert (await fee_order(entering, sessions, paying)).voter_msisdn == "+237670009998"
