"""What a provider's list of payments (Telegram's Star transactions) says of a payment counted on its
webhook's word (pure logic, no I/O)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from gateway.core.money_in.verification.by_list import CountedPayment, judge_listed
from gateway.core.money_in.verification.by_status import Verified
from gateway.core.providers import ListedPayment

COUNTED = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
WAIT = timedelta(minutes=5)
ORDER = CountedPayment(uuid.uuid4(), "ref-1", 50, "XTR", "stx-1", COUNTED - timedelta(minutes=1), COUNTED)
LISTED = ListedPayment("stx-1", "ref-1", 50, "XTR")


def test_the_same_payment_for_the_same_order_agrees() -> None:
    assert judge_listed(ORDER, LISTED, True, COUNTED, WAIT).verified is Verified.AGREED
    assert judge_listed(ORDER, replace(LISTED, currency="xtr"), False, COUNTED, WAIT).verified is Verified.AGREED


def test_a_charge_not_listed_is_looked_for_again_until_the_wait_is_over_and_only_then_disagrees() -> None:
    assert judge_listed(ORDER, None, True, COUNTED + timedelta(minutes=1), WAIT).verified is Verified.ASK_AGAIN
    missing = judge_listed(ORDER, None, True, COUNTED + WAIT, WAIT)
    assert missing.verified is Verified.DISAGREED and "stx-1" in missing.reason


def test_a_read_that_stopped_short_never_calls_a_charge_missing() -> None:
    assert judge_listed(ORDER, None, False, COUNTED + timedelta(hours=6), WAIT).verified is Verified.ASK_AGAIN


def test_another_order_amount_or_currency_disagrees_and_says_why() -> None:
    other_order = judge_listed(ORDER, replace(LISTED, reference="ref-2"), True, COUNTED, WAIT)
    assert other_order.verified is Verified.DISAGREED and "another order" in other_order.reason
    less = judge_listed(ORDER, replace(LISTED, amount=10), True, COUNTED, WAIT)
    assert less.verified is Verified.DISAGREED and "10 XTR" in less.reason
    assert judge_listed(ORDER, replace(LISTED, currency="XAF"), True, COUNTED, WAIT).verified is Verified.DISAGREED


def test_a_genuine_payment_given_back_since_is_a_refund_not_a_disagreement() -> None:
    assert judge_listed(ORDER, replace(LISTED, refunded=True), True, COUNTED, WAIT).verified is Verified.REFUNDED


def test_a_payment_counted_without_a_charge_id_cannot_be_verified() -> None:
    judged = judge_listed(replace(ORDER, txn_id=None), None, False, COUNTED, WAIT)
    assert judged.verified is Verified.DISAGREED
