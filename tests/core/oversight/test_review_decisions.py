"""An item of the review queue decided more than once (a refund refused, sent again, refused again, sent again):
the queue goes by its latest decision, whatever order the audit log's rows are read in. Pure: no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.core.oversight.orders_admin import latest_decisions


def test_each_items_latest_decision_counts_whatever_order_the_rows_come_in() -> None:
    first = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    second = first + timedelta(minutes=40)  # after the refund sent again was refused again
    rows = [("order-a", {"kind": "refund_failed"}, second), ("order-a", {"kind": "refund_failed"}, first),
            ("order-a", {"kind": "held"}, first), ("order-b", {"kind": "refund_failed"}, first)]
    latest = {("order-a", "refund_failed"): second, ("order-a", "held"): first, ("order-b", "refund_failed"): first}
    assert latest_decisions(rows) == latest
    assert latest_decisions(reversed(rows)) == latest
