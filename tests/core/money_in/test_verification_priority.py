"""At the wire (MTN faked by respx, the app's own callback route), under MTN's status-call cap: the callback-counted
orders with the most money at risk are verified first (a large order, a forged callback's, a new payer's), a forged
one among them is found and its votes taken back, and every other order is verified after them, each once."""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import select

from gateway.core.money_in.verification.by_status import DISAGREED, Verified, verify_due, verify_next
from gateway.core.money_in.verification.priority import ClaimTurns, OriginCounts
from gateway.core.money_in.verification.ranking import rank_all_due
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, PaymentVerification
from gateway.kit.keys import CHECKS, PROVIDERS
from gateway.kit.status_pacing import StatusPacer
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.fakes.mtn import FakeMtn, callback, callback_path, paid_body, vote

LATER = timedelta(minutes=1)  # past the first verification's wait
# Every vote of the test comes from its one address: the rule that holds many numbers behind one is off.
ONE_ADDRESS_MANY_NUMBERS = {"numbers_per_address_per_day": 0}
MTN_CAP = 10  # status calls a second (the provider's own figure; its schedule takes 90% of it)


async def counted_from_callback(client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, msisdn: str,
                                quantity: int = 1) -> uuid.UUID:
    order_id = await vote(client, "gala", quantity=quantity, msisdn=msisdn)
    order = await tables.get_order(sessions, order_id)
    fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
    assert await callback(client, order_id, paid_body(order)) == 200
    return order_id


async def verified_in_order(sessions: Sessions, fake_mtn: FakeMtn, order_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The orders whose status MTN was asked, in the order it was asked."""
    by_reference = {str((await tables.get_order(sessions, order_id)).payment_reference): order_id
                    for order_id in order_ids}
    return [by_reference[reference] for reference in fake_mtn.asked if reference in by_reference]


async def test_a_large_order_a_probed_one_and_a_new_payers_are_verified_before_the_crowd_and_the_forgery_is_undone(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn, redis: Redis) -> None:
    contest = await make_contest(sessions, slug="gala", fraud_rules=ONE_ADDRESS_MANY_NUMBERS)
    crowd_numbers = [f"+2376700001{n:02d}" for n in range(12)]
    for number in crowd_numbers:  # each returning payer paid before, and that payment was verified
        await counted_from_callback(client, sessions, fake_mtn, number)
    await verify_due(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + LATER)
    fake_mtn.asked.clear()
    fake_mtn.status_call_seconds.clear()  # unpaced above; paced from here

    crowd: list[uuid.UUID] = []
    for number in crowd_numbers[:4]:
        crowd.append(await counted_from_callback(client, sessions, fake_mtn, number))
    large = await counted_from_callback(client, sessions, fake_mtn, crowd_numbers[4], quantity=60)
    for number in crowd_numbers[5:8]:
        crowd.append(await counted_from_callback(client, sessions, fake_mtn, number))
    # A forger who learnt an order's callback URL tried secrets on it first (refused), then the right one.
    forged = await vote(client, "gala", quantity=1, msisdn=crowd_numbers[8])
    forged_order = await tables.get_order(sessions, forged)
    wrong = callback_path(client, forged, secret=secrets.token_urlsafe(16))
    assert (await client.put(wrong, json=paid_body(forged_order))).status == 400
    assert await callback(client, forged, paid_body(forged_order)) == 200  # counted on its word
    fake_mtn.decide(forged_order.payment_reference, "FAILED", reason="APPROVAL_REJECTED")  # MTN never took it
    for number in crowd_numbers[9:]:
        crowd.append(await counted_from_callback(client, sessions, fake_mtn, number))
    new_payer = await counted_from_callback(client, sessions, fake_mtn, "+237670000299", quantity=2)
    await client.app[CHECKS].wait_idle()
    assert (await tallies(sessions, contest.id))["01"] == 12 + 10 + 60 + 1 + 2

    now = datetime.now(UTC) + LATER
    assert await rank_all_due(sessions, OriginCounts(), now) == 10 + 3
    pace = StatusPacer(redis).wait_turn
    turns = ClaimTurns()
    first = [await verify_next(sessions, client.app[PROVIDERS], pace=pace, now=now, turns=turns) for _ in range(3)]
    # By money at risk: 100 × (1 + 100) for the probed URL, 6,000 XAF (large), 200 × (1 + 2) for the new payer.
    assert first == [(forged, Verified.DISAGREED), (large, Verified.AGREED), (new_payer, Verified.AGREED)]
    flagged = await tables.get_order(sessions, forged)
    assert flagged.status is OrderStatus.FLAGGED and (flagged.status_reason or "").startswith(DISAGREED)
    assert (await tallies(sessions, contest.id))["01"] == 12 + 10 + 60 + 2  # its vote taken back off
    await assert_tally_invariant(sessions, contest.id)

    rest = await verify_due(sessions, client.app[PROVIDERS], pace=pace, now=now)
    assert sorted(order_id for order_id, _ in rest) == sorted(crowd)
    assert {outcome for _, outcome in rest} == {Verified.AGREED}
    everyone = [large, forged, new_payer, *crowd]
    assert sorted(await verified_in_order(sessions, fake_mtn, everyone)) == sorted(everyone)  # each asked once
    assert max(Counter(fake_mtn.status_call_seconds).values()) <= MTN_CAP  # within MTN's cap all along
    async with sessions() as session:
        waiting = await session.scalar(select(PaymentVerification).where(PaymentVerification.verified_at.is_(None)))
    assert waiting is None


async def test_with_suspects_always_ahead_the_oldest_ordinary_order_still_gets_every_tenth_claim(
        client: TestClient, sessions: Sessions, fake_mtn: FakeMtn) -> None:
    await make_contest(sessions, slug="gala", fraud_rules=ONE_ADDRESS_MANY_NUMBERS)
    oldest = await counted_from_callback(client, sessions, fake_mtn, "+237670000301")  # paid before: none
    await verify_due(sessions, client.app[PROVIDERS], now=datetime.now(UTC) + LATER)  # its number has paid
    ordinary = await counted_from_callback(client, sessions, fake_mtn, "+237670000301")
    suspects = [await counted_from_callback(client, sessions, fake_mtn, f"+2376700004{n:02d}", quantity=50)
                for n in range(12)]
    now = datetime.now(UTC) + LATER
    await rank_all_due(sessions, OriginCounts(), now)
    turns = ClaimTurns()
    claimed = [step[0] for _ in range(10)
               if (step := await verify_next(sessions, client.app[PROVIDERS], now=now, turns=turns)) is not None]
    assert [order_id for order_id in claimed if order_id not in suspects] == [ordinary]  # the tenth claim
    assert claimed.index(ordinary) == 9
    assert oldest not in claimed  # verified before, never again
