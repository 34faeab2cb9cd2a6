"""Bundles: a contest's price tiers checked without I/O (each rule a clear refusal), the price of an order by them
(a bundle's votes cost its amount, any other number its votes at the price of a vote, Stars per vote), and a
settlement that counts a bundle at the amount its payer paid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.audit import Actor
from gateway.core.contests.price_tiers import (
    InvalidTiers,
    PriceTier,
    check_tiers,
    order_amount,
    parse_tiers,
    stored_tiers,
    tiers_of,
)
from gateway.core.contests.rules import STARS_CURRENCY, check_order
from gateway.core.money_out import settlements
from gateway.core.orders import counting
from gateway.core.providers import Capability
from gateway.db.engine import Sessions
from gateway.db.models import CandidateStatus, ContestStatus
from tests.factories import make_contest, place

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
TIERS = (PriceTier(1, 100), PriceTier(10, 900), PriceTier(50, 4000))
OWNER = Actor(None, "owner@example.org", "owner")


@dataclass(frozen=True)
class Terms:
    """What `rules.ContestTerms` asks of a contest."""

    price_tiers: tuple[PriceTier, ...] | list[dict[str, int]] = TIERS
    status: ContestStatus = ContestStatus.OPEN
    opens_at: datetime = NOW - timedelta(hours=1)
    closes_at: datetime = NOW + timedelta(hours=1)
    price_per_vote: int = 100
    currency: str = "XAF"
    max_votes_per_order: int = 100
    providers: tuple[str, ...] = ("mtn",)
    country: str = "CM"


def amount(quantity: int, terms: Terms = Terms(), capabilities: set[Capability] | None = None,
           stars_per_vote: int | None = None) -> tuple[int, str]:
    checked = check_order(terms, CandidateStatus.ACTIVE, "07", quantity, "mtn",
                          capabilities if capabilities is not None else {Capability.PHONE_PROMPT},
                          "+237670000001", NOW, stars_per_vote)
    return checked.amount, checked.currency


@pytest.mark.parametrize(("quantity", "expected"), [(1, 100), (10, 900), (50, 4000), (3, 300), (11, 1100),
                                                    (100, 10_000)])
def test_a_bundles_votes_cost_its_amount_and_any_other_number_its_votes(quantity: int, expected: int) -> None:
    assert order_amount(quantity, 100, TIERS) == expected
    assert amount(quantity) == (expected, "XAF")


def test_the_tiers_as_a_row_keeps_them_price_the_same() -> None:
    assert amount(10, Terms(price_tiers=[{"votes": 10, "amount": 900}])) == (900, "XAF")
    assert amount(10, Terms(price_tiers=[])) == (1000, "XAF")  # no bundles: every vote at its price


def test_stars_stay_priced_per_vote() -> None:
    assert amount(10, capabilities={Capability.IN_CHAT}, stars_per_vote=7) == (70, STARS_CURRENCY)


def test_tiers_are_kept_sorted_and_read_back() -> None:
    checked = check_tiers([PriceTier(50, 4000), PriceTier(1, 100), PriceTier(10, 900)], 100, 100)
    assert checked == TIERS
    assert stored_tiers(checked) == [{"votes": 1, "amount": 100}, {"votes": 10, "amount": 900},
                                     {"votes": 50, "amount": 4000}]
    assert tiers_of(stored_tiers(checked)) == TIERS and tiers_of(None) == ()


@pytest.mark.parametrize(("tiers", "words"), [
    ([PriceTier(0, 100)], "between 1 and 100"),
    ([PriceTier(101, 9000)], "between 1 and 100"),
    ([PriceTier(10, 900), PriceTier(10, 800)], "Two price tiers are for 10 votes"),
    ([PriceTier(10, 0)], "must be more than 0"),
    ([PriceTier(10, 1001)], "cannot cost more than 10 single votes (1000)"),
    ([PriceTier(10, 800), PriceTier(20, 1700)], "20 votes cannot cost more per vote than 10 votes"),
    ([PriceTier(n, n * 100) for n in range(1, 7)], "At most 5 price tiers"),
])
def test_a_bad_tier_is_refused_naming_the_rule(tiers: list[PriceTier], words: str) -> None:
    with pytest.raises(InvalidTiers) as refused:
        check_tiers(tiers, 100, 100)
    assert words in refused.value.message and refused.value.field == "price_tiers"


@pytest.mark.parametrize("given", ["10:900", [{"votes": 10}], [{"votes": "10", "amount": 900}],
                                   [{"votes": 10, "amount": 900, "price": 1}], [{"votes": True, "amount": 900}],
                                   [10, 900]])
def test_tiers_an_api_client_sends_wrong_are_refused(given: object) -> None:
    with pytest.raises(InvalidTiers):
        parse_tiers(given)


def test_no_tiers_sent_is_none() -> None:
    assert parse_tiers(None) == () == parse_tiers("") == parse_tiers([])
    assert parse_tiers([{"votes": 10, "amount": 900}]) == (PriceTier(10, 900),)


async def test_a_settlement_counts_a_bundle_at_its_amount(sessions: Sessions) -> None:
    contest = await make_contest(sessions, price_tiers=stored_tiers(TIERS))  # 100 XAF a vote, 10 for 900
    bundle = await place(sessions, contest, quantity=10)
    single = await place(sessions, contest, quantity=3, msisdn="+237670000002")
    assert (bundle.amount, single.amount) == (900, 300)
    for order, txn in ((bundle, "T1"), (single, "T2")):
        await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "XAF", txn, provider="mtn")
    [francs] = (await settlements.settlement(sessions, OWNER, contest.id)).figures
    assert (francs.currency, francs.gross, francs.net) == ("XAF", 1200, 1200)
