"""A juror's points racing the reveal: each lands before it (and is in what the reveal recorded) or is refused, never
after it; the contest's row orders the two."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from gateway.core.audit import Actor
from gateway.core.contests import jury
from gateway.core.errors import Conflict
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, Candidate, JuryScore
from tests.admin.accounts import make_account
from tests.factories import make_contest

OWNER = Actor(None, "owner@example.com", "owner")


async def test_points_sent_while_the_jury_is_revealed_land_before_the_reveal_or_not_at_all(sessions: Sessions) -> None:
    contest = await make_contest(sessions, candidates=2, public_weight_pct=50)
    jurors = []
    for n in range(4):
        account = await make_account(sessions, "jury", f"juror{n}@example.com")
        await jury.seat_juror(sessions, OWNER, contest.id, account.email)
        jurors.append(Actor(account.id, account.email, "jury"))

    async def score(juror: Actor, points: int) -> str:
        try:
            await jury.score(sessions, juror, contest.id, {"01": points, "02": 10 - points})
        except Conflict as refused:
            return refused.code or ""
        return "scored"

    outcomes = await asyncio.gather(*(score(juror, n + 1) for n, juror in enumerate(jurors) for _ in range(3)),
                                    jury.reveal(sessions, OWNER, contest.id, confirmed=True))
    assert set(outcomes[:-1]) <= {"scored", "jury_revealed"}
    async with sessions() as session:
        recorded = (await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "jury.reveal"))).one()
        kept = {code: int(total) for code, total in await session.execute(
            select(Candidate.code, func.coalesce(func.sum(JuryScore.points), 0))
            .outerjoin(JuryScore, JuryScore.candidate_id == Candidate.id)
            .where(Candidate.contest_id == contest.id).group_by(Candidate.code))}
    assert recorded["points"] == kept  # nothing landed after the reveal's count
    assert (await score(jurors[0], 5)) == "jury_revealed"
