"""Reading Telegram's Star transactions for the charges a verification pass asks about (pure logic, no I/O):
when a charge not found may be called missing, and what a refund listed beside its payment means."""

from __future__ import annotations

from typing import Any

from gateway.core.providers import ListedPayment
from payments.stars.listing import PAGE_SIZE, ListingRead

SINCE = 1_000_000


def paid(charge: str, date: int, amount: int = 50, payload: str = "ref", user: int = 7) -> dict[str, Any]:
    return {"id": charge, "amount": amount, "date": date,
            "source": {"type": "user", "user": {"id": user}, "invoice_payload": payload}}


def refund(charge: str, date: int, amount: int = 50, user: int = 7) -> dict[str, Any]:
    return {"id": charge, "amount": amount, "date": date, "receiver": {"type": "user", "user": {"id": user}}}


def full_page(first_date: int, step: int) -> list[dict[str, Any]]:
    return [paid(f"other-{first_date}-{n}", first_date + n * step) for n in range(PAGE_SIZE)]


def test_a_charge_found_is_listed_with_its_payload_and_amount() -> None:
    read = ListingRead(frozenset({"stx-1"}), SINCE)
    read.take([paid("stx-2", SINCE + 20), paid("stx-1", SINCE + 10, payload="ref-1", user=9)] + full_page(SINCE, -1))
    listing = read.listing()
    assert listing.complete and dict(listing.found) == {"stx-1": ListedPayment("stx-1", "ref-1", 50, "XTR")}


def test_newest_first_the_read_may_stop_once_it_is_back_past_the_oldest_order() -> None:
    read = ListingRead(frozenset({"stx-missing"}), SINCE)
    read.take(full_page(SINCE + 500, -1))  # all newer than SINCE: the charge may still be further back
    assert not read.complete
    read.take(full_page(SINCE + 50, -1))  # back past SINCE: everything since was read
    assert read.complete and not read.listing().found


def test_a_list_that_is_not_newest_first_proves_nothing_missing_until_read_to_its_end() -> None:
    read = ListingRead(frozenset({"stx-missing"}), SINCE)
    read.take(full_page(SINCE - 5000, +1))  # oldest first: already past SINCE, but the newest are still to come
    assert not read.complete
    read.take([paid("stx-3", SINCE + 10)])  # a short page: the end of the list
    assert read.complete


def test_a_refund_listed_under_the_charges_id_marks_it_refunded_and_is_never_taken_for_the_payment() -> None:
    read = ListingRead(frozenset({"stx-1"}), SINCE)
    read.take([refund("stx-1", SINCE + 60, amount=1)])
    assert not read.found  # a refund alone is no payment
    read.take([paid("stx-1", SINCE + 10)])
    listing = read.listing()
    assert listing.found["stx-1"].refunded and listing.found["stx-1"].amount == 50


def test_withdrawals_and_other_partners_are_no_payments() -> None:
    read = ListingRead(frozenset({"stx-1"}), SINCE)
    read.take([{"id": "stx-1", "amount": 500, "date": SINCE + 5, "receiver": {"type": "fragment"}},
               {"id": "stx-1", "amount": 50, "date": SINCE + 4, "source": {"type": "user", "user": {"id": 7}}}])
    assert read.complete and not read.listing().found
