"""`gateway review`: every order a person must look at, as an operator runs it."""

from __future__ import annotations

import json
import uuid

import pytest

from assembly.settings import Settings
from gateway.core.orders import closing, counting, refunding
from gateway.core.orders.outcomes import ConfirmOutcome, RefundSettled
from gateway.db.engine import Sessions
from gateway.db.models import Contest, ProviderEvent, VoteOrder
from tests.commands import command_env, gateway
from tests.factories import make_contest, place


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return command_env(settings)


async def paid(sessions: Sessions, contest: Contest, txn: str, **extra: object) -> VoteOrder:
    order = await place(sessions, contest, **extra)  # type: ignore[arg-type]
    assert await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", txn,
                                     provider=order.provider) \
        is ConfirmOutcome.COUNTED
    return order


async def events_received(sessions: Sessions, order_id: uuid.UUID, *kinds: tuple[str, str]) -> None:
    async with sessions.begin() as session:
        session.add_all(ProviderEvent(provider="mtn", order_id=order_id, kind=kind, body="{}", outcome=outcome)
                        for kind, outcome in kinds)


async def test_review_lists_each_order_that_needs_a_person_with_why_and_its_events(
    sessions: Sessions, env: dict[str, str]
) -> None:
    contest = await make_contest(sessions, slug="gala")
    mismatch = await place(sessions, contest, quantity=2)  # 200 XAF asked, MTN reports 100 taken
    assert await counting.confirm_payment(sessions, mismatch.id, "SUCCESSFUL", 100, "XAF", "mtn-1", provider="mtn") \
        is ConfirmOutcome.FLAGGED
    await events_received(sessions, mismatch.id, ("callback.successful", "needs_check"), ("status.check", "flagged"))
    late = await place(sessions, contest)
    assert await closing.expire_order(sessions, late.id)
    assert await counting.confirm_payment(sessions, late.id, "SUCCESSFUL", 100, "XAF", "mtn-2",
                                          provider="mtn") is ConfirmOutcome.FLAGGED
    twice = await paid(sessions, contest, "mtn-3")
    assert await counting.confirm_payment(sessions, twice.id, "SUCCESSFUL", 100, "XAF", "mtn-4", provider="mtn") \
        is ConfirmOutcome.DUPLICATE_PAYMENT
    partly = await paid(sessions, contest, "pi_5", provider="stripe", quantity=3)
    assert await refunding.settle_refund(sessions, partly.id, 40, "xaf", "pi_5") is RefundSettled.PARTIAL_REFUND
    to_refund = await paid(sessions, contest, "om-6", provider="orange", msisdn="+237690000006")
    refunded = gateway("refund", str(to_refund.id), env=env)  # Orange has no refund API: a person pays it back
    assert refunded.returncode == 0 and refunded.stdout.startswith("refund_requested"), refunded.stderr
    unverified = await place(sessions, contest, provider="orange")  # Orange paid a page we never learned of
    await events_received(sessions, unverified.id, ("notification.success.unverified", "needs_check"))
    fine = [await paid(sessions, contest, "mtn-7"), await place(sessions, contest)]  # paid, and pending: nothing to do

    result = gateway("review", env=env)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("6 to review, the longest waiting first:")
    assert f"flagged  order {mismatch.id}  (now flagged; noted " in text
    assert "reason: amount mismatch: provider reported 100 XAF, order is 200 XAF" in text
    assert "callback.successful  -> needs_check" in text and "status.check  -> flagged" in text
    assert "gala, 2 vote(s), 200 XAF by mtn, payer +237670000001" in text
    assert f"flagged  order {late.id}" in text
    assert "reason: provider reported success (SUCCESSFUL) after the order was expired" in text
    assert f"duplicate_payment  order {twice.id}  (now paid; noted " in text
    assert "reason: a second payment (mtn-4, 100 XAF) for an order already paid (mtn-3): refund it" in text
    assert f"partial_refund  order {partly.id}" in text
    assert "reason: 40 XAF of 300 XAF refunded at the provider; the votes still count: decide which" in text
    assert f"refund_requested  order {to_refund.id}" in text and "reason: Marked for a manual refund" in text
    assert f"unverified_payment  order {unverified.id}  (now pending; noted " in text
    assert "reason: orange reported a success we could not check" in text
    assert all(str(order.id) not in text for order in fine)

    listed = json.loads(gateway("review", "--json", env=env).stdout)
    assert sorted((item["kind"], item["order_id"]) for item in listed) == sorted([
        ("flagged", str(mismatch.id)), ("flagged", str(late.id)), ("duplicate_payment", str(twice.id)),
        ("partial_refund", str(partly.id)), ("refund_requested", str(to_refund.id)),
        ("unverified_payment", str(unverified.id))])
    [flagged] = [item for item in listed if item["order_id"] == str(mismatch.id)]
    assert [(e["kind"], e["outcome"]) for e in flagged["events"]] == [("callback.successful", "needs_check"),
                                                                       ("status.check", "flagged")]


async def test_review_says_so_when_nothing_needs_a_person(sessions: Sessions, env: dict[str, str]) -> None:
    contest = await make_contest(sessions)
    await paid(sessions, contest, "mtn-1")
    result = gateway("review", env=env)
    assert result.returncode == 0 and result.stdout == "No order needs a person.\n", result.stderr
