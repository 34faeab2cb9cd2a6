"""A Stars payment counts at once on the webhook's word and is verified later against Telegram's list of Star
transactions (the fake Bot API lists only the charges it really made): a made-up charge loses its votes,
a genuine one keeps them untouched, a genuine one given back later is a refund, not a forgery."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.worker.job_runtime import JobContext
from channels.telegram.fake_api import FakeBotApi
from gateway.core.money_in.passes import verify_by_list_pass
from gateway.core.money_in.verification.by_list import verify_by_list
from gateway.core.money_in.verification.by_status import ASK_AGAIN_AFTER, DISAGREED, Verified, verify_due
from gateway.core.money_in.verification.ranking import UNRANKED
from gateway.core.money_out.money_reconciliation import reconcile_money
from gateway.core.oversight.review import ReviewKind, orders_to_review
from gateway.core.providers import PaymentListing
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, OutboxMessage, PaymentVerification, VoteOrder
from gateway.kit.keys import RELAY
from leaderboard.cache import cached_votes, refresh_contest
from payments.stars import StarsInvoices
from tests.factories import assert_tally_invariant, make_contest, tallies

USER = 5550003
WAIT = timedelta(seconds=300)  # STARS_VERIFY_WITHIN_SECONDS' default


async def invoice_for(telegram: FakeBotApi, user: int, candidate: str = "03 Candidate 03") -> dict[str, object]:
    """A voter chooses 5 votes, gets the invoice, presses Pay and the bot agrees to the charge."""
    await telegram.say(user, "/start")
    await telegram.press(user, "Star Quest")
    await telegram.press(user, candidate)
    await telegram.press(user, "5")
    await telegram.press(user, "Pay 50 ⭐ in Telegram Stars")
    assert (await telegram.pre_checkout(user))["ok"] in (True, "true")
    return telegram.last_invoice(user)


async def forged_payment(telegram: FakeBotApi, user: int, charge: str) -> int:
    """A `successful_payment` sent with the webhook's secret for a charge Telegram never made."""
    invoice = await invoice_for(telegram, user)
    return await telegram.deliver(telegram.message_update(user, "en", successful_payment={
        "currency": "XTR", "total_amount": invoice["total_amount"], "invoice_payload": invoice["payload"],
        "telegram_payment_charge_id": charge, "provider_payment_charge_id": ""}))


async def the_order(sessions: Sessions, user: int = USER) -> VoteOrder:
    async with sessions() as session:
        return (await session.scalars(select(VoteOrder).where(VoteOrder.voter_ref == str(user)))).one()


async def entry(sessions: Sessions, order_id: uuid.UUID) -> PaymentVerification:
    async with sessions() as session:
        found = await session.get(PaymentVerification, order_id)
    assert found is not None
    return found


async def footprint(sessions: Sessions) -> tuple[int, int]:
    """Audit entries and outbox rows: what any change to an order leaves."""
    async with sessions() as session:
        audits = await session.scalar(select(func.count()).select_from(AuditEntry))
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
    return int(audits or 0), int(outbox or 0)


async def test_a_made_up_charge_counts_at_once_then_loses_its_votes_once_telegram_does_not_list_it(
        telegram: FakeBotApi, sessions: Sessions, bot_settings: Settings, redis: Redis) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    assert await forged_payment(telegram, USER, "stxMADEUP0000000000000000") == 200
    order = await the_order(sessions)
    assert order.status is OrderStatus.PAID and (await tallies(sessions, contest.id))["03"] == 5  # at once

    async with httpx.AsyncClient() as http:
        registry = build_providers(bot_settings, http)
        context = JobContext(bot_settings, sessions, redis, registry)
        # The reconciler's status checks leave a Stars payment alone: Telegram has no status call.
        assert await verify_due(sessions, registry, now=datetime.now(UTC) + WAIT * 2) == []
        # Not listed yet, but Telegram's list may lag the payment message: looked for again, not reversed.
        assert await verify_by_list(sessions, "stars", registry.payment_lists()["stars"],
                                    now=datetime.now(UTC) + timedelta(minutes=1), wait_for=WAIT) == [
            (order.id, Verified.ASK_AGAIN)]
        assert (await the_order(sessions)).status is OrderStatus.PAID
        assert (await tallies(sessions, contest.id))["03"] == 5
        assert await verify_by_list_pass(context) == []  # asked again later, not at once

        later = datetime.now(UTC) + WAIT + timedelta(minutes=1)
        assert await verify_by_list(sessions, "stars", registry.payment_lists()["stars"], now=later,
                                    wait_for=WAIT) == [(order.id, Verified.DISAGREED)]
    flagged = await the_order(sessions)
    assert flagged.status is OrderStatus.FLAGGED and (flagged.status_reason or "").startswith(DISAGREED)
    assert "stxMADEUP0000000000000000" in (flagged.status_reason or "")
    assert (await tallies(sessions, contest.id))["03"] == 0
    assert [item.kind for item in await orders_to_review(sessions) if item.order_id == order.id] == [
        ReviewKind.FLAGGED]
    assert (await entry(sessions, order.id)).outcome.startswith("disagreed")  # type: ignore[union-attr]
    await assert_tally_invariant(sessions, contest.id)


async def test_genuine_payments_are_verified_together_in_one_read_and_nothing_changes(
        telegram: FakeBotApi, sessions: Sessions, bot_settings: Settings, redis: Redis) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    voters = [USER, USER + 1, USER + 2]
    for voter in voters:
        await invoice_for(telegram, voter)
        await telegram.deliver(telegram.payment_update(voter))
    before = await footprint(sessions)
    orders = [await the_order(sessions, voter) for voter in voters]
    assert (await tallies(sessions, contest.id))["03"] == 15

    async with httpx.AsyncClient() as http:
        registry = build_providers(bot_settings, http)
        verified = await verify_by_list(sessions, "stars", registry.payment_lists()["stars"],
                                        now=datetime.now(UTC) + timedelta(minutes=1), wait_for=WAIT)
    assert sorted(verified) == sorted((order.id, Verified.AGREED) for order in orders)
    assert len(telegram.calls_of("getStarTransactions")) == 1  # one page for the three of them
    def seen(order: VoteOrder) -> tuple[object, ...]:
        return order.status, order.status_reason, order.decided_at, order.provider_txn_id

    assert [seen(await the_order(sessions, voter)) for voter in voters] == [seen(order) for order in orders]
    assert all(order.status is OrderStatus.PAID for order in orders)
    assert (await tallies(sessions, contest.id))["03"] == 15 and await footprint(sessions) == before
    assert [(await entry(sessions, order.id)).outcome for order in orders] == ["agreed"] * 3


async def test_a_genuine_payment_refunded_at_telegram_since_is_a_refund_not_a_forgery(
        telegram: FakeBotApi, sessions: Sessions, bot_settings: Settings, fake_bot_api: tuple[FakeBotApi, str],
        redis: Redis) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await invoice_for(telegram, USER)
    await telegram.deliver(telegram.payment_update(USER))
    order = await the_order(sessions)
    async with httpx.AsyncClient() as http:  # given back at Telegram, e.g. by a refund cut short before it was noted
        answer = await http.post(f"{fake_bot_api[1]}/bot42:TEST/refundStarPayment", json={
            "user_id": USER, "telegram_payment_charge_id": order.provider_txn_id})
        assert answer.json()["ok"] is True
        registry = build_providers(bot_settings, http)
        verified = await verify_by_list(sessions, "stars", registry.payment_lists()["stars"],
                                        now=datetime.now(UTC) + WAIT * 2, wait_for=WAIT)
    assert verified == [(order.id, Verified.REFUNDED)]
    refunded = await the_order(sessions)
    assert refunded.status is OrderStatus.REFUNDED and not (refunded.status_reason or "").startswith(DISAGREED)
    assert (await tallies(sessions, contest.id))["03"] == 0
    assert [item for item in await orders_to_review(sessions) if item.order_id == order.id] == []
    await assert_tally_invariant(sessions, contest.id)


async def test_the_workers_pass_takes_a_forged_payments_votes_off_the_board(
        telegram: FakeBotApi, bot_client: TestClient, sessions: Sessions, bot_settings: Settings,
        redis: Redis) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    assert await forged_payment(telegram, USER, "stxFORGED111111111111111") == 200
    order = await the_order(sessions)
    await refresh_contest(sessions, redis, contest.id)
    assert sum((await cached_votes(redis, contest.id)).values()) == 5
    # No web process relaying (its tick could lock the pass's board row first, SKIP LOCKED, and refresh the board
    # a moment after the pass returned): the pass's own relay moves the board.
    await bot_client.app[RELAY].stop()
    async with sessions.begin() as session:  # its first look is due (30 s after it was counted)
        await session.execute(update(PaymentVerification).values(due_at=func.now()))
    no_wait = bot_settings.model_copy(update={"stars_verify_within_seconds": 0})
    async with httpx.AsyncClient() as http:
        verified = await verify_by_list_pass(JobContext(no_wait, sessions, redis, build_providers(no_wait, http)))
    assert verified == [(order.id, Verified.DISAGREED)]
    assert (await the_order(sessions)).status is OrderStatus.FLAGGED
    assert sum((await cached_votes(redis, contest.id)).values()) == 0  # the board moved at once


async def test_a_web_process_ranking_the_queue_meanwhile_does_not_hide_a_due_stars_payment_from_the_workers_pass(
        telegram: FakeBotApi, sessions: Sessions, bot_settings: Settings, redis: Redis) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    assert await forged_payment(telegram, USER, "stxRANKED000000000000000") == 200
    order = await the_order(sessions)
    async with sessions.begin() as session:
        await session.execute(update(PaymentVerification).values(due_at=func.now()))
    no_wait = bot_settings.model_copy(update={"stars_verify_within_seconds": 0})
    async with httpx.AsyncClient() as http:
        registry = build_providers(no_wait, http)
        async with sessions.begin() as ranking:  # a web process's ranking pass, its batch locked (SKIP LOCKED)
            await ranking.execute(UNRANKED, {"rank_now": datetime.now(UTC), "rank_limit": 1000,
                                             "rank_skip": list(registry.payment_lists())})
            verified = await verify_by_list_pass(JobContext(no_wait, sessions, redis, registry))
    assert verified == [(order.id, Verified.DISAGREED)]


class HeldList:
    """Telegram's list as a slow read sees it (pages under 429s and time-outs): the first read is held until
    released, any other answers at once; none lists anything."""

    read_within = StarsInvoices.read_within  # what the real provider's read may take

    def __init__(self, reaches_back_to: datetime | None = None) -> None:
        self.reads: list[datetime] = []
        self.started, self.release = asyncio.Event(), asyncio.Event()
        self.reaches_back_to = reaches_back_to  # a read asked to go back further stops short

    async def list_payments(self, wanted: frozenset[str], since: datetime) -> PaymentListing:
        self.reads.append(since)
        if len(self.reads) == 1 and self.reaches_back_to is None:
            self.started.set()
            await self.release.wait()
        return PaymentListing({}, complete=self.reaches_back_to is None or since >= self.reaches_back_to)


async def test_a_second_worker_does_not_read_the_list_again_while_a_slow_read_is_under_way(
        telegram: FakeBotApi, sessions: Sessions) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await forged_payment(telegram, USER, "stxSLOW00000000000000000")
    order = await the_order(sessions)
    held, first_now = HeldList(), datetime.now(UTC) + timedelta(minutes=1)
    first = asyncio.create_task(verify_by_list(sessions, "stars", held, now=first_now, wait_for=WAIT))
    await asyncio.wait_for(held.started.wait(), 10)
    # The slowest read the provider allows is still under way: its entries are still claimed.
    assert await verify_by_list(sessions, "stars", held, now=first_now + StarsInvoices.read_within,
                                wait_for=WAIT) == []
    assert len(held.reads) == 1  # Telegram asked once, not twice
    held.release.set()
    assert await first == [(order.id, Verified.ASK_AGAIN)]


async def test_a_payment_a_minutes_long_read_did_not_find_is_looked_for_again_after_the_read_not_at_once(
        telegram: FakeBotApi, sessions: Sessions) -> None:
    """A pass's clock is its start's, and Telegram's list may take minutes to read (pages under 429s): the payment
    it did not find is due again 30 s after the read ended, not 30 s after the pass began, which would have it
    claimed and the list read again at once, back to back, by the next worker's pass."""
    await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await forged_payment(telegram, USER, "stxLONGREAD0000000000000")
    order = await the_order(sessions)
    began = datetime.now(UTC) - timedelta(minutes=2)  # the pass began two minutes before its read came back
    async with sessions.begin() as session:
        await session.execute(update(PaymentVerification).values(due_at=began - timedelta(minutes=1)))
    read_back = datetime.now(UTC)
    assert await verify_by_list(sessions, "stars", HeldList(reaches_back_to=began - WAIT), now=began,
                                wait_for=WAIT) == [(order.id, Verified.ASK_AGAIN)]
    assert (await entry(sessions, order.id)).due_at >= read_back + ASK_AGAIN_AFTER


async def test_an_old_payment_the_list_cannot_reach_does_not_keep_a_recent_forgery_its_votes(
        telegram: FakeBotApi, sessions: Sessions, caplog: pytest.LogCaptureFixture) -> None:
    contest = await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await forged_payment(telegram, USER, "stxOLD000000000000000000")
    await forged_payment(telegram, USER + 1, "stxRECENT000000000000000")
    old, recent = await the_order(sessions), await the_order(sessions, USER + 1)
    async with sessions.begin() as session:  # ordered two days ago, e.g. counted late or held
        await session.execute(update(VoteOrder).where(VoteOrder.id == old.id)
                              .values(created_at=func.now() - timedelta(days=2)))
        await session.execute(update(PaymentVerification).where(PaymentVerification.order_id == old.id)
                              .values(queued_at=func.now() - timedelta(days=2)))
    one_read_reaches = datetime.now(UTC) - timedelta(hours=1)  # the page limit stops a read there
    later = datetime.now(UTC) + WAIT + timedelta(minutes=1)
    with caplog.at_level(logging.WARNING, logger="gateway.core.money_in.verification.by_list"):
        verified = await verify_by_list(sessions, "stars", HeldList(one_read_reaches), now=later, wait_for=WAIT)
    assert sorted(verified) == sorted([(old.id, Verified.ASK_AGAIN), (recent.id, Verified.DISAGREED)])
    assert (await tallies(sessions, contest.id))["03"] == 5  # the recent forgery's 5 votes are off
    assert "1 payments still unverified" in caplog.text  # the old one: someone is told


async def test_the_days_stars_agree_with_telegrams_list_but_a_made_up_charge_does_not(
        telegram: FakeBotApi, sessions: Sessions, bot_settings: Settings) -> None:
    await make_contest(sessions, stars_per_vote=10, name="Star Quest")
    await invoice_for(telegram, USER)
    await telegram.deliver(telegram.payment_update(USER))
    genuine = await the_order(sessions)
    async with httpx.AsyncClient() as http:
        registry = build_providers(bot_settings, http)
        today = datetime.now(UTC).date()
        agreed = await reconcile_money(sessions, registry, "stars", today, no_pace)
        assert (agreed.checked, agreed.differences) == (1, [])
        assert await forged_payment(telegram, USER + 1, "stxMADEUP0000000000000001") == 200  # counted at once
        found = await reconcile_money(sessions, registry, "stars", today, no_pace)
    [gap] = found.differences
    forged = await the_order(sessions, USER + 1)
    assert (gap.what, gap.entry.key, gap.entry.amount) == ("missing_at_provider", forged.id, 50)
    assert genuine.id != forged.id


async def no_pace(provider: object) -> None:
    return None
