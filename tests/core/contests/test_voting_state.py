"""Whether voting is open: one rule in the core, which the order check, USSD and the web all follow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from gateway.core.contests.rules import VotingState, check_contest_open, voting_state
from gateway.core.errors import VoteRejected
from gateway.db.models import ContestStatus

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)



@dataclass(frozen=True)
class Terms:
    """What `rules.ContestTerms` asks of a contest, and nothing else."""

    status: ContestStatus
    opens_at: datetime
    closes_at: datetime
    price_per_vote: int
    currency: str
    max_votes_per_order: int
    providers: tuple[str, ...]


@pytest.mark.parametrize(("status", "opens_at", "closes_at", "state", "code"), [
    (ContestStatus.OPEN, NOW - HOUR, NOW + HOUR, VotingState.OPEN, None),
    (ContestStatus.OPEN, NOW, NOW + HOUR, VotingState.OPEN, None),
    (ContestStatus.OPEN, NOW + HOUR, NOW + 2 * HOUR, VotingState.NOT_YET, "contest_not_open"),
    (ContestStatus.OPEN, NOW - 2 * HOUR, NOW, VotingState.CLOSED, "contest_closed"),
    (ContestStatus.PAUSED, NOW - HOUR, NOW + HOUR, VotingState.PAUSED, "contest_not_open"),
    (ContestStatus.CLOSED, NOW - HOUR, NOW + HOUR, VotingState.CLOSED, "contest_not_open"),
    (ContestStatus.DRAFT, NOW - HOUR, NOW + HOUR, VotingState.CLOSED, "contest_not_open"),
])
def test_an_order_is_refused_exactly_when_the_channels_say_voting_is_not_open(
        status: ContestStatus, opens_at: datetime, closes_at: datetime, state: VotingState, code: str | None) -> None:
    assert voting_state(status, opens_at, closes_at, NOW) is state
    terms = Terms(status, opens_at, closes_at, 100, "XAF", 10, ("mtn",))
    if code is None:
        check_contest_open(terms, NOW)
    else:
        with pytest.raises(VoteRejected) as refused:
            check_contest_open(terms, NOW)
        assert refused.value.code == code
