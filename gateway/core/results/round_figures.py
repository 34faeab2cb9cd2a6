"""A round's own figures, as its board and its decision read them: the votes, money and free votes of its orders (and
of the rounds its board carried the counts of) on the ledger, for the candidates it began with. Its signed sheet
(gateway.core.results.round_sheets) lists them, and a show's signed results blend the last round's (signing)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Candidate, ContestRound, FreeVote, RoundBaseline

# The votes and money of the given rounds' orders on the ledger, up to the entry a sheet is signed at.
ROUND_COUNTS = text("""
    SELECT e.candidate_id, e.currency, sum(e.quantity) AS votes, sum(e.amount) AS amount
    FROM ledger_entries e JOIN vote_orders o ON o.id = e.order_id
    WHERE e.contest_id = :contest AND e.seq <= :entries AND o.round_id = ANY(:rounds)
    GROUP BY e.candidate_id, e.currency""")


@dataclass(frozen=True)
class RoundLine:
    """A candidate of the round and what the round counted for them."""

    candidate_id: int
    code: str
    name: str
    went_through: bool | None
    votes: int = 0
    amounts: dict[str, int] = field(default_factory=dict)
    free: int = 0


def counted_rounds(rounds: list[ContestRound], number: int) -> list[int]:
    """The rounds whose votes a round's board shows: itself, and while it carries the counts, the one before."""
    by_number = {r.number: r for r in rounds}
    chain, current = [], by_number[number]
    while True:
        chain.append(current.id)
        if not current.carry_counts or current.number - 1 not in by_number:
            return chain
        current = by_number[current.number - 1]


async def round_lines(session: AsyncSession, rounds: list[ContestRound], row: ContestRound,
                      entries: int) -> list[RoundLine]:
    """The round's candidates by code, with its counts up to ledger entry `entries`."""
    candidates = (await session.execute(
        select(Candidate.id, Candidate.code, Candidate.name, RoundBaseline.went_through)
        .join(RoundBaseline, RoundBaseline.candidate_id == Candidate.id)
        .where(RoundBaseline.round_id == row.id).order_by(Candidate.code))).all()
    chain = counted_rounds(rounds, row.number)
    counts = (await session.execute(ROUND_COUNTS, {"contest": row.contest_id, "entries": entries,
                                                   "rounds": chain})).all()
    votes: dict[int, int] = {}
    amounts: dict[int, dict[str, int]] = {}
    for candidate, currency, quantity, amount in counts:
        votes[candidate] = votes.get(candidate, 0) + int(quantity)
        amounts.setdefault(candidate, {})[currency] = int(amount)
    free = {c: int(n) for c, n in (await session.execute(
        select(FreeVote.candidate_id, func.count()).where(FreeVote.round_id.in_(chain))
        .group_by(FreeVote.candidate_id))).all()}
    return [RoundLine(candidate, code, name, through, votes.get(candidate, 0), amounts.get(candidate, {}),
                      free.get(candidate, 0)) for candidate, code, name, through in candidates]
