"""What a provider's later status says of a vote counted from its callback (pure logic, no I/O)."""

from __future__ import annotations

from gateway.core.money_in.verification.by_status import PENDING_TURNS, Verified, judge
from gateway.core.providers import PaymentState, StatusResult


def test_the_same_success_agrees() -> None:
    status = StatusResult(PaymentState.SUCCESSFUL, 500, "xaf", "t-1", raw_status="SUCCESSFUL")
    assert judge(500, "XAF", status, 1).verified is Verified.AGREED


def test_a_failure_another_amount_or_currency_or_no_payment_disagrees_and_says_why() -> None:
    failed = judge(500, "XAF", StatusResult(PaymentState.FAILED, raw_status="FAILED"), 1)
    assert failed.verified is Verified.DISAGREED and "FAILED" in failed.reason
    less = judge(500, "XAF", StatusResult(PaymentState.SUCCESSFUL, 100, "XAF"), 1)
    assert less.verified is Verified.DISAGREED and "100 XAF" in less.reason
    assert judge(500, "XAF", StatusResult(PaymentState.SUCCESSFUL, 500, "EUR"), 1).verified is Verified.DISAGREED
    assert judge(500, "XAF", StatusResult(PaymentState.SUCCESSFUL, None, None), 1).verified is Verified.DISAGREED
    assert judge(500, "XAF", None, 1).verified is Verified.DISAGREED


def test_still_pending_is_asked_again_until_it_has_been_pending_too_long() -> None:
    pending = StatusResult(PaymentState.PENDING, raw_status="PENDING")
    assert judge(500, "XAF", pending, 1).verified is Verified.ASK_AGAIN
    assert judge(500, "XAF", pending, PENDING_TURNS).verified is Verified.DISAGREED
