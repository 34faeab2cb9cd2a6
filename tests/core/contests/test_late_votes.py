"""The published late-vote rule, to the second: an order placed before the close counts if paid by the close plus the
contest's grace (that second included), and not one second later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.contests.late_votes import DEFAULT_GRACE_SECONDS, grace_ends, is_late, lines_closed_at, rule_minutes

CLOSE = datetime(2026, 11, 28, 21, 0, 0, tzinfo=UTC)
PLACED = CLOSE - timedelta(seconds=1)


@pytest.mark.parametrize(("after_close", "late"), [
    (timedelta(0), False),
    (timedelta(seconds=DEFAULT_GRACE_SECONDS - 1), False),
    (timedelta(seconds=DEFAULT_GRACE_SECONDS), False),  # the grace's last second still counts
    (timedelta(seconds=DEFAULT_GRACE_SECONDS, microseconds=1), True),
    (timedelta(seconds=DEFAULT_GRACE_SECONDS + 1), True),
    (timedelta(hours=2), True),
])
def test_a_payment_counts_until_the_close_plus_the_grace_and_not_a_second_later(after_close: timedelta,
                                                                                 late: bool) -> None:
    assert is_late(PLACED, CLOSE + after_close, CLOSE, DEFAULT_GRACE_SECONDS) is late


def test_a_payment_before_the_close_is_never_late() -> None:
    assert not is_late(PLACED - timedelta(minutes=10), CLOSE - timedelta(seconds=1), CLOSE, 0)


def test_without_grace_the_close_itself_is_the_last_second() -> None:
    assert not is_late(PLACED, CLOSE, CLOSE, 0)
    assert is_late(PLACED, CLOSE + timedelta(seconds=1), CLOSE, 0)


def test_a_paybill_payment_written_after_the_close_is_not_this_rules_but_a_voters_order_is() -> None:
    """A paybill payment written after the close is judged by its own rule; an order a voter placed in the instant
    a producer closed the lines (it read the contest just before the close committed) is this rule's."""
    assert not is_late(CLOSE, CLOSE + timedelta(hours=1), CLOSE, DEFAULT_GRACE_SECONDS, unasked=True)
    assert is_late(CLOSE + timedelta(milliseconds=5), CLOSE + timedelta(hours=1), CLOSE, DEFAULT_GRACE_SECONDS)
    assert not is_late(CLOSE + timedelta(milliseconds=5), CLOSE + timedelta(seconds=30), CLOSE, DEFAULT_GRACE_SECONDS)


def test_closing_by_hand_before_the_closing_time_moves_the_close_earlier_and_never_later() -> None:
    assert lines_closed_at(CLOSE, None) == CLOSE
    assert lines_closed_at(CLOSE, CLOSE - timedelta(minutes=30)) == CLOSE - timedelta(minutes=30)
    assert lines_closed_at(CLOSE, CLOSE + timedelta(minutes=30)) == CLOSE


def test_a_negative_grace_is_no_grace() -> None:
    assert grace_ends(CLOSE, -60) == CLOSE


@pytest.mark.parametrize(("seconds", "minutes"), [(300, 5), (301, 6), (60, 1), (0, 1), (90, 2)])
def test_the_published_minutes_never_promise_less_than_the_rule(seconds: int, minutes: int) -> None:
    assert rule_minutes(seconds) == minutes
