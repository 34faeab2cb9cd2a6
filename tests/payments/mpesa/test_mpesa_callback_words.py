"""Daraja refuses a registered URL holding "M-Pesa", "MPesa" or "Safaricom" (any case), and filters its other APIs'
callback URLs alike: every URL we hand Safaricom, as the code builds it, holds none of them; the paths they name
are served; and the paybill voting pure rules read what people type and what Daraja sends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.contests.rules import VotingState
from gateway.core.money_in.paid_unasked import account_code, same_account, why_held
from gateway.core.providers import Collection
from payments.mpesa import c2b
from payments.mpesa.c2b_register import register_body
from payments.mpesa.c2b_statement import judged, run_start
from payments.mpesa.callback_secret import callback_key
from payments.mpesa.money_out import MpesaMoneyOut
from payments.mpesa.outgoing_results import OutgoingResults
from payments.mpesa.paths import forbidden_words
from payments.mpesa.paybills import PaybillContest, contest_for
from payments.mpesa.stk_push import MpesaStkPush

PUBLIC = "https://votes.example.co.ke"
KEY = callback_key("a-secret-key-for-the-words-test-0123456789")


def every_url_we_hand_safaricom() -> list[str]:
    """The STK Push's CallBackURL, a reversal's and a B2C payment's ResultURL and QueueTimeOutURL, the Transaction
    Status query's URL, and a paybill's ConfirmationURL and ValidationURL."""
    order, reference = uuid.uuid4(), uuid.uuid4()
    push = MpesaStkPush(None, "174379", "passkey", PUBLIC, KEY)  # type: ignore[arg-type]  # builds URLs, no calls
    money_out = MpesaMoneyOut(None, OutgoingResults(None), initiator="i", password="p",  # type: ignore[arg-type]
                              certificate=None, shortcode="600000", public_base_url=PUBLIC,  # type: ignore[arg-type]
                              callback_key=KEY)
    collection = Collection(order, reference, 1000, "KES", "+254712000001", "Vote", "web")
    sent = [push.callback_url(collection), *money_out._urls(reference).values(), money_out._status_url(reference)]
    body = register_body("600000", PUBLIC, KEY)
    return [*sent, body["ConfirmationURL"], body["ValidationURL"]]


def test_no_url_we_hand_safaricom_holds_a_word_daraja_filters() -> None:
    urls = every_url_we_hand_safaricom()
    assert len(urls) == 6
    assert {url: forbidden_words(url) for url in urls if forbidden_words(url)} == {}
    assert forbidden_words("https://x/payments/M-Pesa/callback") == ["M-Pesa"]  # the check sees what Daraja sees
    assert forbidden_words("https://safaricom.example/MPESA") == ["safaricom", "MPESA"]


def test_a_public_address_with_a_filtered_word_stops_the_registration() -> None:
    with pytest.raises(Exception, match="forbidden_words"):
        register_body("600000", "https://mpesa-votes.example", KEY)


@pytest.mark.parametrize(("typed", "meant"), [
    ("07", "07"), ("7", "07"), ("007", "07"), (" 0 7 ", "07"), ("12", "12"), ("a1", "A1"), ("99", None),
    ("", None), ("O7", None)])
def test_a_code_is_read_as_people_type_it(typed: str, meant: str | None) -> None:
    assert account_code(typed, ["07", "12", "A1"]) == meant


def test_two_account_numbers_are_one_code_as_people_type_them() -> None:
    assert same_account("04", " 4") and same_account("4", "004") and same_account("a-1", "A1")
    assert not same_account("05", "04") and not same_account("", "04") and not same_account("04", "")


def test_what_buys_no_whole_vote_is_said() -> None:
    assert why_held(3000, 1000, "KES", VotingState.OPEN) is None
    assert "3 votes at 10.00 KES and 0.50 KES more" in (why_held(3050, 1000, "KES", VotingState.OPEN) or "")
    assert "under one vote's price" in (why_held(500, 1000, "KES", VotingState.OPEN) or "")
    assert "closed" in (why_held(3000, 1000, "KES", VotingState.CLOSED) or "")


def test_the_payer_is_read_as_daraja_gives_them_now() -> None:
    hashed = "f" * 64
    assert c2b.payer_of(hashed) == (None, "mpesa-payer:" + hashed)  # v1: a SHA-256 of the number
    assert c2b.payer_of("2547 ***** 126") == (None, None)  # v2: masked, names nobody
    number, pseudonym = c2b.payer_of("254712000102")  # whole: Daraja's sandbox, an old integration
    assert number == "+254712000102" and pseudonym is not None and pseudonym.startswith("mpesa-payer:")
    now = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
    notice = c2b.notice_of({"TransID": "RKT0000001", "TransAmount": "3000.00", "BusinessShortCode": "600000",
                            "BillRefNumber": "07", "TransTime": "20261128193015", "MSISDN": hashed}, now)
    assert notice is not None and notice.amount == 300_000 and notice.paid_at == datetime(2026, 11, 28, 16, 30, 15,
                                                                                          tzinfo=UTC)
    assert c2b.notice_of({"TransID": "RKT0000001", "TransAmount": "12.345"}, now) is None


def test_a_payment_without_a_believable_time_is_placed_when_its_word_came() -> None:
    now = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
    body = {"TransID": "RKT0000001", "TransAmount": "30.00", "BusinessShortCode": "600000", "BillRefNumber": "07"}
    for told in (None, "not a time", "20271128193015"):  # none, unreadable, a year ahead
        notice = c2b.notice_of({**body, "TransTime": told}, now)
        assert notice is not None and notice.paid_at == now


def test_a_payment_missing_from_the_statement_is_judged_so_only_once_it_was_read_past_it() -> None:
    paid = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    later = datetime(2026, 11, 28, 18, 20, tzinfo=UTC)
    before = paid - timedelta(hours=2)
    assert judged(None, before, later, paid, later) == "missing"
    assert judged(None, before, paid, paid, later) == "unknown"  # not read far enough yet: the votes stand
    assert judged(None, None, None, paid, later) == "unknown"  # never read (Pull Transactions not registered)
    assert judged(None, before, later, None, later) == "unknown"  # no time to place it by


def test_a_payment_older_than_the_run_of_reads_is_never_judged_missing() -> None:
    """A paybill read first (or again after a gap past Daraja's 48 hours) only after the payment: the statement
    was never read back to it, so its absence proves nothing."""
    paid = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    now = paid + timedelta(hours=5)
    assert judged(None, paid + timedelta(minutes=1), now, paid, now) == "unknown"
    assert judged(None, paid - timedelta(minutes=1), now, paid, now) == "missing"
    # the receipts a run listed are kept three days: older than that, a run's start proves nothing either
    assert judged(None, paid - timedelta(days=1), paid + timedelta(days=4), paid, paid + timedelta(days=4)) == "unknown"


def test_the_run_of_reads_starts_again_after_a_gap() -> None:
    start = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    assert run_start(None, None, start) == start  # the first read
    joined = start + timedelta(minutes=55)
    assert run_start(start, start + timedelta(hours=1), joined) == start  # read again behind the last read's end
    gap = start + timedelta(hours=49)
    assert run_start(start, start + timedelta(hours=1), gap) == gap  # a gap: a new run
    assert run_start(None, start + timedelta(hours=1), joined) == joined  # an end kept without its start


def test_a_paybill_used_again_gives_each_payment_to_the_contest_open_when_it_was_made() -> None:
    monday = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    last_week = PaybillContest(1, "hold", monday, monday + timedelta(hours=2), closed=True)
    this_week = PaybillContest(2, "hold", monday + timedelta(days=7), monday + timedelta(days=7, hours=2), closed=False)
    both = [last_week, this_week]
    assert contest_for(both, monday + timedelta(hours=1)) == last_week  # its word came late: still last week's
    assert contest_for(both, monday + timedelta(days=3)) == this_week  # between the shows: held by the next one
    assert contest_for(both, monday + timedelta(days=7, hours=1)) == this_week
    assert contest_for([last_week], monday + timedelta(days=1)) == last_week  # after the close: held there
    assert contest_for([], monday) is None
