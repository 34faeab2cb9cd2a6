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
from sqlalchemy import select

from gateway.core.cells import safe_text
from gateway.core.errors import Conflict, NotFound
from gateway.core.results import signing
from gateway.core.results.jury_parts import public_jury
from gateway.core.results.round_figures import round_lines
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import Contest, ContestRound, ResultsSheet, RoundStatus

ROUND_REASON = "round"


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
        figures = await round_lines(session, rounds, row, report.entries)
        lines = [signing.SheetLine(line.code, line.name, line.votes, line.amounts, line.free) for line in figures]
        free = sum(line.free for line in figures)
        free_weight = contest.free_vote_weight if contest.free_votes_per_day or free else None
        jury = await public_jury(session, contest_id, contest.public_weight_pct)
        # The jury's part with a round decided once the jury was revealed (its blend is what decided it).
        part = signing.SheetJury(jury, {line.code: line.candidate_id for line in figures}) if jury.revealed else None
        signed_at = datetime.now(UTC)
        base = signing.sheet_csv(contest.slug, contest.name, contest.currency, lines, report.entries, report.head,
                                 signed_at, part, free_weight)
        sheet = round_csv(base, row, [line.code for line in figures if line.went_through])
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
