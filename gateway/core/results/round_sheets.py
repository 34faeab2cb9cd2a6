"""A round's signed results: its sheet made from the verified ledger, the votes of the round's own orders (and of the
rounds its board carried the counts of), with the round and who went through, signed as a contest's sheet is.

The sheet is the contest's format (`signing.sheet_csv`) with a `round` line after the contest's
(`round,<number>,<name>,,,<result|hand>`) and a `through` line per candidate who went through, so one check — its
bytes against its signature — holds for both, offline with `gateway results verify` and on /verify. A round decided
once the contest's jury was revealed (a final blended with a jury) carries the jury's part over the round's votes.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text

from gateway.core.cells import safe_text
from gateway.core.errors import Conflict, NotFound
from gateway.core.results import signing
from gateway.core.results.jury_parts import public_jury
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import (
    Candidate,
    Contest,
    ContestRound,
    FreeVote,
    ResultsSheet,
    RoundBaseline,
    RoundStatus,
)

ROUND_REASON = "round"

# The votes and money of the given rounds' orders on the ledger, up to the entry the sheet is signed at.
ROUND_COUNTS = text("""
    SELECT e.candidate_id, e.currency, sum(e.quantity) AS votes, sum(e.amount) AS amount
    FROM ledger_entries e JOIN vote_orders o ON o.id = e.order_id
    WHERE e.contest_id = :contest AND e.seq <= :entries AND o.round_id = ANY(:rounds)
    GROUP BY e.candidate_id, e.currency""")


def counted_rounds(rounds: list[ContestRound], number: int) -> list[int]:
    """The rounds whose votes a round's board shows: itself, and while it carries the counts, the one before."""
    by_number = {r.number: r for r in rounds}
    chain, current = [], by_number[number]
    while True:
        chain.append(current.id)
        if not current.carry_counts or current.number - 1 not in by_number:
            return chain
        current = by_number[current.number - 1]


def round_csv(base: bytes, row: ContestRound, through: list[str]) -> bytes:
    """The contest's sheet format with the round's lines after the contest's."""
    header, contest_line, rest = base.split(b"\n", 2)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("round", str(row.number), safe_text(row.name), "", "", row.decided_by or ""))
    for code in through:
        writer.writerow(("through", safe_text(code), "", "", "", ""))
    return header + b"\n" + contest_line + b"\n" + out.getvalue().encode() + rest


async def sign_round(sessions: Sessions, key: Ed25519PrivateKey, contest_id: int, number: int, *,
                     signed_by: str) -> signing.SignedSheet:
    """Sign a decided round's results from the verified ledger and keep the sheet."""
    report = await signing.verified_ledger(sessions, contest_id)
    async with sessions.begin() as session:
        contest = await session.get(Contest, contest_id)
        rounds = list((await session.scalars(select(ContestRound).where(ContestRound.contest_id == contest_id)
                                             .order_by(ContestRound.number))).all())
        row = next((r for r in rounds if r.number == number), None)
        if contest is None or row is None:
            raise NotFound(f"The contest has no round {number}.", code="round_not_found")
        if row.status is not RoundStatus.DECIDED:
            raise Conflict("A round's results are signed once who goes through is decided.", code="round_not_decided")
        candidates = (await session.execute(
            select(Candidate.id, Candidate.code, Candidate.name, RoundBaseline.went_through)
            .join(RoundBaseline, RoundBaseline.candidate_id == Candidate.id)
            .where(RoundBaseline.round_id == row.id).order_by(Candidate.code))).all()
        counts = (await session.execute(ROUND_COUNTS, {"contest": contest_id, "entries": report.entries,
                                                       "rounds": counted_rounds(rounds, number)})).all()
        votes: dict[int, int] = {}
        amounts: dict[int, dict[str, int]] = {}
        for candidate, currency, quantity, amount in counts:
            votes[candidate] = votes.get(candidate, 0) + int(quantity)
            amounts.setdefault(candidate, {})[currency] = int(amount)
        chain = counted_rounds(rounds, number)
        free = {c: int(n) for c, n in (await session.execute(
            select(FreeVote.candidate_id, func.count()).where(FreeVote.round_id.in_(chain))
            .group_by(FreeVote.candidate_id))).all()}
        lines = [signing.SheetLine(code, name, votes.get(candidate, 0), amounts.get(candidate, {}),
                                   free.get(candidate, 0))
                 for candidate, code, name, _ in candidates]
        free_weight = contest.free_vote_weight if contest.free_votes_per_day or free else None
        jury = await public_jury(session, contest_id, contest.public_weight_pct)
        # The jury's part with a round decided once the jury was revealed (its blend is what decided it).
        part = signing.SheetJury(jury, {code: candidate for candidate, code, _, _ in candidates}) \
            if jury.revealed else None
        signed_at = datetime.now(UTC)
        base = signing.sheet_csv(contest.slug, contest.name, contest.currency, lines, report.entries, report.head,
                                 signed_at, part, free_weight)
        sheet = round_csv(base, row, [code for _, code, _, through in candidates if through])
        signature = signing.sign(key, sheet)
        stored = ResultsSheet(contest_id=contest_id, round_id=row.id, reason=ROUND_REASON, sheet=sheet,
                              signature=signature, public_key=signing.public_raw(key.public_key()),
                              entries=report.entries, head_hash=report.head, signed_by=signed_by,
                              created_at=signed_at)
        session.add(stored)
        await session.flush()
    return signing.SignedSheet(stored.id, contest.slug, ROUND_REASON, sheet, signature, report.entries, report.head,
                               signed_at)


async def round_sheet(sessions: Sessions, slug: str, number: int) -> signing.SignedSheet | None:
    """A round's latest signed sheet, public once it is decided (None before)."""
    async with autocommit(sessions) as session:
        found = (await session.execute(
            select(ResultsSheet).join(ContestRound, ContestRound.id == ResultsSheet.round_id)
            .join(Contest, Contest.id == ResultsSheet.contest_id)
            .where(Contest.slug == slug, ContestRound.number == number, ResultsSheet.reason == ROUND_REASON)
            .order_by(ResultsSheet.id.desc()).limit(1))).scalar_one_or_none()
    if found is None:
        return None
    return signing.SignedSheet(found.id, slug, found.reason, bytes(found.sheet), bytes(found.signature),
                               found.entries, bytes(found.head_hash), found.created_at)
