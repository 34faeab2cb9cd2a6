"""A contest's free votes as its organiser sets them (gateway.core.orders.free_votes takes them): how many a proven
number may take (`free_votes_per_day`, 0: none), per "day" (the contest's local day) or "round", and how they
weigh ("counted": one more on the board each; "apart": shown beside the paid count). A form that says nothing of
them (one drawn before they existed) keeps the contest's own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.core.entered_number import entered_whole
from gateway.core.errors import DomainError
from gateway.db.models import Contest

FIELDS = ("free_votes_per_day", "free_votes_per", "free_vote_weight")
PERIODS = ("day", "round")
WEIGHTS = ("apart", "counted")
MAX_PER_DAY = 100


@dataclass(frozen=True)
class FreeVoteSettings:
    per_day: int
    per: str
    weight: str


def _choice(form: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str:
    value = str(form.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise DomainError(f"{name}: {' or '.join(choices)}.", code="invalid_field", field=name)
    return value


def parse_free_votes(form: Mapping[str, Any]) -> FreeVoteSettings | None:
    """The form's free votes, or None when it has none of their fields."""
    if not any(name in form for name in FIELDS):
        return None
    per_day = entered_whole(form.get("free_votes_per_day") or 0, "free_votes_per_day", low=0, high=MAX_PER_DAY)
    return FreeVoteSettings(per_day, _choice(form, "free_votes_per", PERIODS),
                            _choice(form, "free_vote_weight", WEIGHTS))


def apply_free_votes(contest: Contest, settings: FreeVoteSettings | None) -> None:
    if settings is not None:
        contest.free_votes_per_day, contest.free_votes_per = settings.per_day, settings.per
        contest.free_vote_weight = settings.weight


def free_votes_snapshot(contest: Contest) -> dict[str, Any]:
    """As the audit trail keeps a contest's settings."""
    return {"free_votes_per_day": contest.free_votes_per_day, "free_votes_per": contest.free_votes_per,
            "free_vote_weight": contest.free_vote_weight}
