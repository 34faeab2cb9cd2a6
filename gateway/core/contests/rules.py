"""The vote rules as pure functions: what may be ordered, and how an order's state may move."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from gateway.core.contests.price_tiers import PriceTier, order_amount, tiers_of
from gateway.core.errors import VoteRejected
from gateway.core.market import of_country
from gateway.core.phone import DEFAULT_REGION, InvalidMsisdn, normalise_msisdn
from gateway.core.providers import Capability
from gateway.db.models import CandidateStatus, ContestStatus, OrderStatus


class ContestTerms(Protocol):
    """The parts of a contest an order is checked against: a contest row and the channels'
    `catalog.PublicContest` both have them, so neither is copied into a third shape."""

    @property
    def status(self) -> ContestStatus: ...
    @property
    def opens_at(self) -> datetime: ...
    @property
    def closes_at(self) -> datetime: ...
    @property
    def price_per_vote(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def max_votes_per_order(self) -> int: ...
    @property
    def providers(self) -> Sequence[str]: ...
    @property
    def country(self) -> str: ...
    @property
    def price_tiers(self) -> Sequence[Mapping[str, int]] | Sequence[PriceTier]: ...


@dataclass(frozen=True)
class CheckedOrder:
    quantity: int
    amount: int
    currency: str
    provider: str
    msisdn: str | None


class VotingState(StrEnum):
    """Whether a contest takes votes now, and if not why: what every channel tells a voter."""

    OPEN = "open"
    NOT_YET = "not_yet"
    PAUSED = "paused"
    CLOSED = "closed"  # closed, past its closing time, or a draft


def voting_state(status: ContestStatus, opens_at: datetime, closes_at: datetime, now: datetime) -> VotingState:
    """The one rule for "is voting open": the order check, USSD's menus and the web's pages all ask it."""
    if status is ContestStatus.PAUSED:
        return VotingState.PAUSED
    if status is not ContestStatus.OPEN or now >= closes_at:
        return VotingState.CLOSED
    return VotingState.NOT_YET if now < opens_at else VotingState.OPEN


def check_contest_open(terms: ContestTerms, now: datetime) -> None:
    state = voting_state(terms.status, terms.opens_at, terms.closes_at, now)
    if state is VotingState.OPEN:
        return
    if terms.status is not ContestStatus.OPEN:
        raise VoteRejected(f"Voting is {terms.status.value} for this contest.", code="contest_not_open")
    if state is VotingState.NOT_YET:
        raise VoteRejected("Voting has not opened yet.", code="contest_not_open")
    raise VoteRejected("Voting has closed.", code="contest_closed")


def check_candidate(status: CandidateStatus | None, code: str) -> None:
    if status is None or status is CandidateStatus.HIDDEN:
        raise VoteRejected(f"No candidate has the code {code}.", code="candidate_not_found", field="candidate")
    if status is not CandidateStatus.ACTIVE:
        raise VoteRejected(f"Candidate {code} can no longer receive votes.", code="candidate_not_active",
                           field="candidate")


def check_quantity(quantity: int, maximum: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= maximum:
        raise VoteRejected(f"The number of votes must be between 1 and {maximum}.", code="invalid_quantity",
                           field="quantity")
    return quantity


def check_payer(provider: str, capabilities: Set[Capability], enabled: Sequence[str],
                msisdn: str | None, country: str | None = None) -> str | None:
    """Return the payer's E.164 number: required where the provider charges a phone's wallet (`capabilities`: what
    it declares), and then of the contest's `country` (a contest's wallets are its country's: MTN Cameroon charges no
    Kenyan number); else kept only if given."""
    if provider not in enabled:
        raise VoteRejected(f"Payment by {provider} is not available for this contest.",
                           code="provider_not_enabled", field="provider")
    if Capability.PHONE_PROMPT not in capabilities:
        return normalise_optional(msisdn)
    if not msisdn:
        raise VoteRejected("A phone number is needed to pay by mobile money.", code="msisdn_required",
                           field="msisdn")
    try:
        payer = normalise_msisdn(msisdn, country or DEFAULT_REGION)
    except InvalidMsisdn as exc:
        raise VoteRejected(f"{msisdn} is not a valid phone number.", code="invalid_msisdn",
                           field="msisdn") from exc
    if country is not None and not of_country(payer, country):
        raise VoteRejected("This contest's mobile money takes numbers of its own country only.",
                           code="number_not_served", field="msisdn")
    return payer


def normalise_optional(msisdn: str | None) -> str | None:
    if not msisdn:
        return None
    try:
        return normalise_msisdn(msisdn)
    except InvalidMsisdn as exc:
        raise VoteRejected(f"{msisdn} is not a valid phone number.", code="invalid_msisdn",
                           field="msisdn") from exc


def check_order(
    terms: ContestTerms,
    candidate_status: CandidateStatus | None,
    candidate_code: str,
    quantity: int,
    provider: str,
    capabilities: Set[Capability],
    msisdn: str | None,
    now: datetime,
    stars_per_vote: int | None = None,
) -> CheckedOrder:
    """Everything that must hold before an order is created; raises VoteRejected otherwise. `capabilities`: what
    the order's provider declares (a provider paid in the chat is offered there whatever the contest lists).

    The amount is the one the provider is asked and the settlements count: a quantity that is a price tier's votes
    costs the tier's amount, any other quantity its votes at the contest's price (`price_tiers.order_amount`). Stars
    stay priced per vote: a chat's price is its own (`stars_per_vote`, in Stars), not the tiers' currency."""
    check_contest_open(terms, now)
    check_candidate(candidate_status, candidate_code)
    quantity = check_quantity(quantity, terms.max_votes_per_order)
    if Capability.IN_CHAT in capabilities:
        return CheckedOrder(quantity, quantity * stars_price(stars_per_vote), STARS_CURRENCY, provider, None)
    payer = check_payer(provider, capabilities, terms.providers, msisdn, terms.country)
    amount = order_amount(quantity, terms.price_per_vote, tiers_of(terms.price_tiers))
    return CheckedOrder(quantity, amount, terms.currency, provider, payer)


# Votes bought in a chat are priced in Stars, per contest (`stars_per_vote`), whatever its currency.
STARS_CURRENCY = "XTR"


def stars_price(stars_per_vote: int | None) -> int:
    """A contest's price of a vote in Stars; a contest without one is not sold in Stars."""
    if not stars_per_vote or stars_per_vote < 1:
        raise VoteRejected("This contest does not take Stars.", code="provider_not_enabled",
                           field="provider")
    return stars_per_vote


def late_success_status(current: OrderStatus) -> OrderStatus | None:
    """What a provider-confirmed success does to an order that is no longer pending.

    A success after expiry or failure means money moved for a vote we did not count: flag it for
    a person. Anything already decided otherwise stays as it is.
    """
    if current in (OrderStatus.EXPIRED, OrderStatus.FAILED):
        return OrderStatus.FLAGGED
    return None
