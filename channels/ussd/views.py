"""What the menu knows about contests: the core's `PublicContest`s (loaded through the vote service, cached
briefly), and the USSD-ready views built from them at each hop (names transliterated, availability at `now`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from channels.phone.gsm7 import transliterate
from gateway.core.contests.catalog import PublicContest
from gateway.core.contests.price_tiers import PriceTier, order_amount
from gateway.core.contests.ranking import PublicBoard
from gateway.core.contests.rules import VotingState
from gateway.core.texts import Lang
from gateway.core.voters.payer_numbers import PayerVotes
from gateway.db.models import CandidateStatus


@dataclass(frozen=True)
class PayOption:
    """A provider the pay screen offers: one that prompts on the phone, set up to push over USSD here."""

    provider: str  # its name, as the order keeps it
    label: str  # GSM-7: the phone channels' word for it, else its own (`channels.phone.texts.provider_label`)


class BoardMode(StrEnum):
    COUNTS = "counts"
    RANKS = "ranks"  # the organiser hides counts
    HIDDEN = "hidden"  # the board is frozen or sealed until close: nothing live until the results


def is_keypad_number(raw: str) -> bool:
    """Digits a phone's keypad sends (str.isdigit alone also takes "¹" or "٣", which no keypad sends)."""
    return raw.isascii() and raw.isdigit()


@dataclass(frozen=True)
class CandidateView:
    code: str
    name: str  # GSM-7 safe
    active: bool


@dataclass(frozen=True)
class MenuContest:
    """One contest as the USSD menu shows it (built from the core's PublicContest at each hop)."""

    id: int
    slug: str
    name: str  # GSM-7 safe
    availability: VotingState
    price: int
    currency: str
    max_votes: int
    providers: tuple[PayOption, ...]  # offered over USSD, in listing order
    language: Lang
    board: BoardMode
    candidates: tuple[CandidateView, ...] = field(default=())
    country: str = "CM"  # its audience's (gateway.core.market): the numbers its wallets charge
    tiers: tuple[PriceTier, ...] = ()  # its bundles, listed on the quantity screen
    may_give_free_votes: bool = True  # False when the contest gives none: no caller's free votes to look up

    def amount_of(self, quantity: int) -> int:
        """What the order of `quantity` votes will cost: a bundle's amount for its votes (the core's rule)."""
        return order_amount(quantity, self.price, self.tiers)

    @property
    def listed(self) -> tuple[CandidateView, ...]:
        return tuple(c for c in self.candidates if c.active)

    def candidate(self, typed: str) -> CandidateView | None:
        """The candidate a voter means: the exact code, else the same number ("7" is "07")."""
        exact = next((c for c in self.candidates if c.code == typed), None)
        if exact is not None or not is_keypad_number(typed):
            return exact
        return next((c for c in self.candidates if int(c.code) == int(typed)), None)


@dataclass(frozen=True)
class TopEntry:
    code: str
    votes: int
    rank: int  # the board's rank: tied candidates share it


@dataclass(frozen=True)
class Extras:
    """Data only some screens need, loaded by the route after the walk says which screen it is."""

    top: tuple[TopEntry, ...] = ()
    mine: PayerVotes | None = None


def board_mode(record: PublicContest, now: datetime) -> BoardMode:
    shown = record.public_board()
    if shown is PublicBoard.SEALED or (record.board_frozen_at is not None and now >= record.board_frozen_at):
        return BoardMode.HIDDEN
    return BoardMode.COUNTS if shown is PublicBoard.COUNTS else BoardMode.RANKS


def safe_name(raw: str, fallback: str) -> str:
    return transliterate(raw) or fallback


def build_view(record: PublicContest, now: datetime, usable: tuple[PayOption, ...]) -> MenuContest:
    """The view at `now`; `usable` is the providers this process can push over USSD, in the pay screen's order
    (the service's, whatever order the contest lists them in)."""
    offered = tuple(option for option in usable if option.provider in record.providers)
    return MenuContest(
        id=record.id, slug=record.slug, name=safe_name(record.name, record.slug),
        availability=record.voting(now),
        price=record.price_per_vote, currency=record.currency, max_votes=record.max_votes_per_order,
        providers=offered, language=Lang.parse(record.default_language) or Lang.FR, board=board_mode(record, now),
        candidates=tuple(CandidateView(c.code, safe_name(c.name, f"Cand. {c.code}"), c.status is CandidateStatus.ACTIVE)
                         for c in record.candidates),
        country=record.country, tiers=record.price_tiers, may_give_free_votes=record.free_votes_per_day != 0,
    )


def open_views(views: tuple[MenuContest, ...]) -> tuple[MenuContest, ...]:
    return tuple(v for v in views if v.availability is VotingState.OPEN)


def why_unavailable(views: tuple[MenuContest, ...]) -> MenuContest | None:
    """When nothing is open, the contest whose state says most: paused, then not yet open, then closed."""
    for wanted in (VotingState.PAUSED, VotingState.NOT_YET, VotingState.CLOSED):
        found = [v for v in views if v.availability is wanted]
        if found:
            return found[-1] if wanted is VotingState.CLOSED else found[0]
    return None
