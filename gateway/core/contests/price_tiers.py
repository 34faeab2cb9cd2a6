"""Bundles: a contest's price tiers ("1 vote 100 XAF, 10 votes 900 XAF, 50 votes 4,000 XAF"), checked without I/O.

A tier is a number of votes sold together at one amount (minor units of the contest's currency). They are kept as
a list on the contest row (`contests.price_tiers`, JSONB of {"votes": n, "amount": minor}) rather than in a table of
their own: a contest's rounds copy a contest's terms when a round opens, and a list in one column copies as one
value, in the same statement as the price it goes with. They are few (a phone's screen lists them all), so nothing
ever queries one tier alone.

The rules, so that a bundle is always a good deal and every channel can offer it the same way:
- a tier's votes are 1 to the contest's `max_votes_per_order`, each number of votes once;
- its amount is more than 0 and never more than the same votes bought one by one (votes × price_per_vote);
- a larger bundle is never dearer per vote than a smaller one;
- at most MAX_TIERS of them (USSD's screen lists them all within 182 characters);
- kept sorted by votes.

How an order is priced (`order_amount`): a quantity equal to a tier's votes costs the tier's amount; any other
quantity costs quantity × price_per_vote, so a single vote (and any number a channel lets a voter type) stays
possible, and a voter who types "10" gets the bundle as one who picked it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.core.errors import DomainError

MAX_TIERS = 5
FIELD = "price_tiers"


class InvalidTiers(DomainError):
    """A rule the tiers break: `rule` and `values` name it for a page that says it in its reader's words."""

    status = 400
    code = "invalid_price_tiers"

    def __init__(self, message: str, rule: str, **values: int) -> None:
        super().__init__(message, field=FIELD)
        self.rule, self.values = rule, values


@dataclass(frozen=True, order=True)
class PriceTier:
    votes: int
    amount: int  # minor units of the contest's currency

    def stored(self) -> dict[str, int]:
        return {"votes": self.votes, "amount": self.amount}


def tiers_of(stored: Iterable[Mapping[str, Any]] | Iterable[PriceTier] | None) -> tuple[PriceTier, ...]:
    """The tiers as a contest row keeps them (None or []: none) or a PublicContest carries them, sorted by votes."""
    return tuple(sorted(tier if isinstance(tier, PriceTier) else PriceTier(int(tier["votes"]), int(tier["amount"]))
                        for tier in stored or ()))


def stored_tiers(tiers: Iterable[PriceTier]) -> list[dict[str, int]]:
    return [tier.stored() for tier in sorted(tiers)]


def order_amount(quantity: int, price_per_vote: int, tiers: Sequence[PriceTier]) -> int:
    """What `quantity` votes cost: a tier's amount when it is a tier's number of votes, else each vote at its price."""
    for tier in tiers:
        if tier.votes == quantity:
            return tier.amount
    return quantity * price_per_vote


def votes_bought(amount: int, price_per_vote: int, tiers: Sequence[PriceTier]) -> tuple[int, int]:
    """What a sum paid without an order of ours buys (a paybill payment naming a candidate): a bundle's votes when
    it is a bundle's amount, else whole votes at the price; and what is left over."""
    for tier in tiers:
        if tier.amount == amount:
            return tier.votes, 0
    return divmod(amount, price_per_vote)


def check_tiers(tiers: Sequence[PriceTier], price_per_vote: int, max_votes_per_order: int) -> tuple[PriceTier, ...]:
    """The tiers sorted, or InvalidTiers (on the field `price_tiers`) naming the first rule one breaks."""
    if len(tiers) > MAX_TIERS:
        raise InvalidTiers(f"At most {MAX_TIERS} price tiers.", "too_many", most=MAX_TIERS)
    ordered = tuple(sorted(tiers))
    seen: set[int] = set()
    for tier in ordered:
        if not 1 <= tier.votes <= max_votes_per_order:
            raise InvalidTiers(f"A price tier's votes must be between 1 and {max_votes_per_order} "
                               f"(the votes an order at most).", "votes_range", maximum=max_votes_per_order)
        if tier.votes in seen:
            raise InvalidTiers(f"Two price tiers are for {tier.votes} votes.", "same_votes", votes=tier.votes)
        seen.add(tier.votes)
        if tier.amount <= 0:
            raise InvalidTiers(f"The price of {tier.votes} votes must be more than 0.", "no_amount", votes=tier.votes)
        if tier.amount > tier.votes * price_per_vote:
            raise InvalidTiers(f"{tier.votes} votes cannot cost more than {tier.votes} single votes "
                               f"({tier.votes * price_per_vote}).", "dearer_than_singles", votes=tier.votes,
                               amount=tier.votes * price_per_vote)
    for smaller, larger in zip(ordered, ordered[1:], strict=False):
        if larger.amount * smaller.votes > smaller.amount * larger.votes:
            raise InvalidTiers(f"{larger.votes} votes cannot cost more per vote than {smaller.votes} votes.",
                               "dearer_per_vote", votes=larger.votes, fewer=smaller.votes)
    return ordered


def parse_tiers(given: object) -> tuple[PriceTier, ...]:
    """Tiers as an API client sends them: a list of {"votes": n, "amount": minor units}; None or "" is none. Their
    rules against the contest's price are `check_tiers`'s."""
    if given is None or given == "":
        return ()
    if not isinstance(given, list) or not all(isinstance(item, Mapping) for item in given):
        raise InvalidTiers('price_tiers must be a list of {"votes": n, "amount": minor units}.', "shape")
    tiers = []
    for item in given:
        votes, amount = item.get("votes"), item.get("amount")
        if not _whole(votes) or not _whole(amount) or set(item) - {"votes", "amount"}:
            raise InvalidTiers('Each price tier is {"votes": a whole number, "amount": a whole number of minor '
                               'units}.', "shape")
        assert isinstance(votes, int) and isinstance(amount, int)
        tiers.append(PriceTier(votes, amount))
    return tuple(tiers)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**15
