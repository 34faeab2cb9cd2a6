"""MTN callbacks on the order's secret URL count at once, with no status call; anything else on
that URL counts nothing and costs nothing; every order counted that way is verified later by a status
call, and a disagreement takes its votes back off. MTN faked at the wire (respx)."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from assembly.settings import Settings
from assembly.web.app import create_app
from gateway.core.money_in.verification.by_status import (
    ASK_AGAIN_AFTER,
    CLAIM_LEASE,
    DISAGREED,
    Verified,
    claim_next,
    verify_due,
    verify_next,
)
from gateway.core.orders import tables
from gateway.core.oversight.review import ReviewKind, orders_to_review
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, PaymentVerification, ProviderEvent, VoteOrder
from gateway.kit.keys import CHECKS, PROVIDERS
from leaderboard.cache import cached_votes
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.fakes.mtn import FakeMtn, callback, callback_path, paid_body, reference_of, vote

LATER = timedelta(minutes=1)  # past the first verification's wait


async def paid_at_once(client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, quantity: int = 5,
                       msisdn: str = "+237670000001") -> VoteOrder:
    """An order MTN was paid for, counted from its callback on the order's secret URL."""
    order_id = await vote(client, "gala", quantity=quantity, msisdn=msisdn)
    order = await tables.get_order(sessions, order_id)
    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    assert await callback(client, order_id, paid_body(order)) == 200
    return await tables.get_order(sessions, order_id)


async def queue(sessions: Sessions) -> dict[uuid.UUID, PaymentVerification]:
    async with sessions() as session:
        return {row.order_id: row for row in await session.scalars(select(PaymentVerification))}


async def test_a_genuine_callback_counts_at_once_without_a_status_call_and_its_secret_is_kept_nowhere(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    fake_mtn.decide(await reference_of(sessions, order_id), "SUCCESSFUL")
    path = callback_path(client, order_id)
    proxied = {"X-Original-URI": path, "X-Request-Id": "r-1"}  # a proxy may repeat the URL in a header
    answer = await client.put(path, json=paid_body(await tables.get_order(sessions, order_id)), headers=proxied)
    assert answer.status == 200
    order = await tables.get_order(sessions, order_id)
    assert order.status is OrderStatus.PAID  # when MTN's callback was answered, not later
    assert (await tallies(sessions, contest.id))["01"] == 5
    await client.app[CHECKS].wait_idle()
    assert fake_mtn.status_calls == 0
    waiting = (await queue(sessions))[order.id]
    assert waiting.verified_at is None and waiting.due_at > waiting.queued_at  # verified later, within the cap
    secret = path.rsplit("=", 1)[1]
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent).where(ProviderEvent.order_id == order.id))).one()
    assert event.outcome == "counted" and event.headers["x-request-id"] == "r-1"
    assert secret not in json.dumps(event.headers) + event.body
    await assert_tally_invariant(sessions, contest.id)


async def test_a_hundred_concurrent_genuine_callbacks_count_once_and_queue_one_verification(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala", quantity=3)
    order = await tables.get_order(sessions, order_id)
    answers = await asyncio.gather(*(callback(client, order_id, paid_body(order)) for _ in range(100)))
    await client.app[CHECKS].wait_idle()
    assert answers == [200] * 100 and fake_mtn.status_calls == 0
    assert (await tallies(sessions, contest.id))["01"] == 3 and list(await queue(sessions)) == [order_id]
    await assert_tally_invariant(sessions, contest.id)


@pytest.mark.parametrize("secret", ["missing", "wrong", "another order's"])
async def test_a_forged_callback_on_a_wrong_or_missing_secret_counts_nothing_and_costs_no_status_call(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, secret: str) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    order = await tables.get_order(sessions, order_id)
    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")  # even while MTN would say paid: no call is made
    other = callback_path(client, uuid.uuid4()).rsplit("=", 1)[1]
    path = {"missing": callback_path(client, order_id, keyed=False),
            "wrong": callback_path(client, order_id, secret=secrets.token_urlsafe(16)),
            "another order's": callback_path(client, order_id, secret=other)}[secret]
    response = await client.put(path, json=paid_body(order))
    assert response.status == 400 and (await response.json())["error"]["code"] == "bad_callback_secret"
    await client.app[CHECKS].wait_idle()
    assert fake_mtn.status_calls == 0
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PENDING
    assert (await tallies(sessions, contest.id))["01"] == 0
    assert await queue(sessions) == {}
    async with sessions() as session:
        event = (await session.scalars(select(ProviderEvent))).one()
    assert event.outcome == "rejected:bad_callback_secret"


@pytest.mark.parametrize("missing", ["amount", "currency", "externalId"])
async def test_a_callback_lacking_amount_currency_or_reference_falls_back_to_a_status_check(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, missing: str) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    order = await tables.get_order(sessions, order_id)
    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    body = paid_body(order)
    del body[missing]
    assert await callback(client, order_id, body) == 200
    await client.app[CHECKS].wait_idle()
    assert fake_mtn.status_calls == 1  # MTN's status counted it, as before: nothing to verify later
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 5 and await queue(sessions) == {}


async def test_a_callback_naming_another_amount_is_not_believed_the_status_decides(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    order = await tables.get_order(sessions, order_id)
    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    assert await callback(client, order_id, paid_body(order, amount="100")) == 200
    await client.app[CHECKS].wait_idle()
    assert fake_mtn.status_calls == 1
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID  # MTN's status: 500 XAF
    assert (await tallies(sessions, contest.id))["01"] == 5 and await queue(sessions) == {}


async def test_an_order_placed_before_callback_secrets_keeps_the_status_check(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order_id = await vote(client, "gala")
    async with sessions.begin() as session:  # what such an order looks like: no mark of a keyed callback URL
        await session.execute(update(VoteOrder).where(VoteOrder.id == order_id)
                              .values(provider_data=VoteOrder.provider_data.op("-")("callback")))
    order = await tables.get_order(sessions, order_id)
    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    assert await callback(client, order_id, paid_body(order), keyed=False) == 200
    await client.app[CHECKS].wait_idle()
    assert fake_mtn.status_calls == 1
    assert (await tables.get_order(sessions, order_id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 5 and await queue(sessions) == {}


async def test_a_verification_that_agrees_marks_the_order_verified_and_changes_nothing_else(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order = await paid_at_once(client, sessions, fake_mtn)
    assert await verify_next(sessions, client.app[PROVIDERS], now=datetime.now(UTC)) is None  # not due yet
    assert await verify_next(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + LATER) == (
        order.id, Verified.AGREED)
    assert fake_mtn.status_calls == 1
    done = (await queue(sessions))[order.id]
    assert done.verified_at is not None and done.outcome == "agreed"
    assert (await tables.get_order(sessions, order.id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 5
    assert await verify_due(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + 2 * LATER) == []


@pytest.mark.parametrize("mtn_says", ["FAILED", "another amount", "no such payment"])
async def test_a_disagreeing_verification_takes_the_votes_back_once_flags_the_order_and_moves_the_board(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, redis: Redis, mtn_says: str) -> None:
    contest = await make_contest(sessions, slug="gala")
    kept = await paid_at_once(client, sessions, fake_mtn, quantity=2, msisdn="+237670000002")
    order = await paid_at_once(client, sessions, fake_mtn, quantity=5)
    await until_board(redis, contest.id, 7)
    reference = str(order.payment_reference)
    if mtn_says == "FAILED":
        fake_mtn.decide(order.payment_reference, "FAILED", reason="APPROVAL_REJECTED")
    elif mtn_says == "another amount":
        fake_mtn.statuses[reference]["amount"] = "100"
    else:
        del fake_mtn.statuses[reference]
    async with sessions.begin() as session:  # due now: the web process's own loop verifies it
        await session.execute(update(PaymentVerification).values(due_at=func.now()))
    await until_verified(sessions, 2)
    flagged = await tables.get_order(sessions, order.id)
    assert flagged.status is OrderStatus.FLAGGED and (flagged.status_reason or "").startswith(DISAGREED)
    assert (await tables.get_order(sessions, kept.id)).status is OrderStatus.PAID
    assert (await tallies(sessions, contest.id))["01"] == 2
    await assert_tally_invariant(sessions, contest.id)
    await until_board(redis, contest.id, 2)  # the board moved back
    review = [item for item in await orders_to_review(sessions) if item.order_id == order.id]
    assert [item.kind for item in review] == [ReviewKind.FLAGGED]
    # Once: a later pass finds nothing due, and the order's votes are taken off no further.
    assert await verify_due(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + 10 * LATER) == []
    assert (await tallies(sessions, contest.id))["01"] == 2
    async with sessions() as session:
        audits = list(await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "payment.verification_disagreed")))
    assert [audit.target for audit in audits] == [str(order.id)]


async def test_mtn_still_pending_is_asked_again_later_not_reversed(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    order = await paid_at_once(client, sessions, fake_mtn)
    fake_mtn.decide(order.payment_reference, "PENDING")
    now = datetime.now(UTC) + LATER
    assert await verify_next(sessions, client.app[PROVIDERS], now=now) == (order.id, Verified.ASK_AGAIN)
    assert (await queue(sessions))[order.id].verified_at is None
    assert (await tallies(sessions, contest.id))["01"] == 5


async def test_a_pass_looks_at_a_payment_still_pending_once_and_sets_its_next_look_on_its_own_clock(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    """A pass whose clock runs ahead of the real one (a catch-up's, a test's): the entry MTN still calls pending is
    due again 30 s on that clock, as its lease is, so the pass asks once; on the real clock it was due again at
    once, asked twenty times in the one pass, and its votes taken back as "still pending long after its callback"."""
    contest = await make_contest(sessions, slug="gala")
    order = await paid_at_once(client, sessions, fake_mtn)
    fake_mtn.decide(order.payment_reference, "PENDING")
    now = datetime.now(UTC) + 10 * LATER
    assert await verify_due(sessions, client.app[PROVIDERS], now=now) == [(order.id, Verified.ASK_AGAIN)]
    assert fake_mtn.status_calls == 1
    assert (await queue(sessions))[order.id].due_at == now + ASK_AGAIN_AFTER
    assert (await tallies(sessions, contest.id))["01"] == 5


async def test_verification_survives_a_restart_and_a_checker_that_died(
        client: TestClient, settings: Settings, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    async with TestClient(TestServer(create_app(settings))) as before_restart:
        order = await paid_at_once(before_restart, sessions, fake_mtn)
    # A process claims it, then dies before asking MTN: after its lease, another takes it over.
    now = datetime.now(UTC) + LATER
    assert await claim_next(sessions, now) == (order.id, 1)
    assert await verify_next(sessions, client.app[PROVIDERS], now=now) is None  # held by the dead one's lease
    later = now + CLAIM_LEASE + timedelta(seconds=1)
    assert await verify_next(sessions, client.app[PROVIDERS], now=later) == (order.id, Verified.AGREED)
    assert fake_mtn.status_calls == 1 and (await tallies(sessions, contest.id))["01"] == 5


async def test_metrics_show_the_verification_backlog_and_its_age(
        client: TestClient, settings: Settings, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    await make_contest(sessions, slug="gala")
    text = await (await client.get("/metrics")).text()
    assert "gateway_verification_backlog 0.0" in text and "gateway_verification_oldest_age_seconds 0.0" in text
    order = await paid_at_once(client, sessions, fake_mtn)
    async with sessions.begin() as session:
        await session.execute(update(PaymentVerification).where(PaymentVerification.order_id == order.id)
                              .values(queued_at=func.now() - timedelta(seconds=90)))
    async with TestClient(TestServer(create_app(settings))) as other:  # a fresh process: nothing cached
        text = await (await other.get("/metrics")).text()
    assert "gateway_verification_backlog 1.0" in text
    age = float(text.split("\ngateway_verification_oldest_age_seconds ")[1].split()[0])
    assert 90 <= age < 120


async def test_two_thousand_forged_callbacks_do_not_hold_a_genuine_vote_behind_them(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    await confirm(client, sessions, fake_mtn, "+237670000010")
    targets = [await vote(client, "gala", msisdn=f"+23767000002{n}") for n in range(5)]  # pending orders
    gate = asyncio.Semaphore(20)  # as the other floods: the forger and the app share this test's one event loop

    async def forge(n: int) -> int:
        order_id = targets[n % len(targets)]
        path = callback_path(client, order_id, keyed=False) if n % 2 else callback_path(
            client, order_id, secret=secrets.token_urlsafe(16))
        async with gate:
            return (await client.put(path, json={"status": "SUCCESSFUL", "amount": "500", "currency": "XAF",
                                                 "externalId": str(order_id)})).status

    forged = [asyncio.create_task(forge(n)) for n in range(2000)]
    while sum(task.done() for task in forged) < 20:  # the flood is under way
        await asyncio.sleep(0.01)
    answered_before = sum(task.done() for task in forged)
    await confirm(client, sessions, fake_mtn, "+237670000011")
    # Measured in the flood's own progress, not in seconds, so that a slow or busy machine slows both alike: a
    # genuine vote queued behind the forgeries (their checks, MTN's rate limit) would see most of them answered
    # first. Here 45-85 of the 2,000 are, and a second's delay would see 280 more.
    answered_meanwhile = sum(task.done() for task in forged) - answered_before
    answers = await asyncio.gather(*forged)
    assert answered_meanwhile < 250, f"{answered_meanwhile} forged callbacks were answered before the genuine vote"
    await client.app[CHECKS].wait_idle()
    assert set(answers) <= {400, 429}
    forged_at = {str(await reference_of(sessions, order_id)) for order_id in targets}
    assert not forged_at & set(fake_mtn.asked)  # (the genuine votes may be verified meanwhile, on a slow machine)
    assert {(await tables.get_order(sessions, order_id)).status for order_id in targets} == {OrderStatus.PENDING}
    assert (await tallies(sessions, contest.id))["01"] == 10
    await assert_tally_invariant(sessions, contest.id)


async def confirm(client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, msisdn: str) -> None:
    """A vote, MTN's genuine callback for it, and the wait until it is counted."""
    order_id = await vote(client, "gala", msisdn=msisdn)
    order = await tables.get_order(sessions, order_id)
    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    assert await callback(client, order_id, paid_body(order)) == 200
    while (await tables.get_order(sessions, order_id)).status is not OrderStatus.PAID:
        await asyncio.sleep(0.01)


async def until_board(redis: Redis, contest_id: int, total: int) -> None:
    for _ in range(300):
        if sum((await cached_votes(redis, contest_id)).values()) == total:
            return
        await asyncio.sleep(0.02)
    assert sum((await cached_votes(redis, contest_id)).values()) == total


async def until_verified(sessions: Sessions, count: int) -> None:
    for _ in range(500):
        if sum(row.verified_at is not None for row in (await queue(sessions)).values()) == count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the verifications were never done")
