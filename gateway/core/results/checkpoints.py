"""The ledger's rounds: a checkpoint of each contest's chain every hour it grew, and at close a checkpoint and a
signed results sheet (a show in rounds: at its last round's close, never at an earlier round's). Run by the
worker's periodic job every few minutes (one job per time slot, whichever worker enqueues it)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import and_, func, literal_column, or_, select

from gateway.core.errors import Conflict
from gateway.core.results import ledger, signing
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import (
    Contest,
    ContestStatus,
    LedgerCheckpoint,
    LedgerHead,
    ResultsSheet,
    RoundStatus,
)
from gateway.db.models import ContestRound as ShowRound

log = logging.getLogger(__name__)
CLOSE = "close"
HOURLY = "hourly"
AFTER_CLOSE = "after_close"


@dataclass(frozen=True)
class ContestRound:
    contest_id: int
    slug: str
    closed: bool
    head_entries: int | None
    last_checkpoint_at: datetime | None
    last_checkpoint_entries: int | None
    close_taken: bool
    close_signed: bool  # a sheet signed at close (or after it) is kept


async def contests_to_look_at(sessions: Sessions, now: datetime) -> list[ContestRound]:
    """Contests with a ledger, or closed: with their head's length and their last checkpoint."""
    checkpoints = LedgerCheckpoint.__table__.c

    def last(column: Any) -> Any:
        return (select(column).where(checkpoints.contest_id == Contest.id)
                .order_by(checkpoints.taken_at.desc(), checkpoints.id.desc()).limit(1).correlate(Contest)
                .scalar_subquery())

    # A show in rounds closes at its last round's close: until then its lines' close is a round's, and the round
    # after it opens them again. The close's checkpoint and sheet are those taken since the current round opened:
    # a close that came before it (a round nobody had planned yet then) is the close of nothing.
    rounds = ShowRound.__table__.c
    this_round_opened = func.coalesce(select(rounds.opened_at).where(rounds.id == Contest.current_round_id)
                                      .correlate(Contest).scalar_subquery(), literal_column("'-infinity'::timestamptz"))
    rounds_to_come = (select(rounds.id).where(rounds.contest_id == Contest.id, rounds.status == RoundStatus.PLANNED)
                      .correlate(Contest).exists())
    closed_taken = (select(checkpoints.id).where(checkpoints.contest_id == Contest.id, checkpoints.reason == CLOSE,
                                                 checkpoints.taken_at >= this_round_opened)
                    .correlate(Contest).exists())
    sheets = ResultsSheet.__table__.c
    close_signed = (select(sheets.id).where(sheets.contest_id == Contest.id, sheets.reason.in_((CLOSE, AFTER_CLOSE)),
                                            sheets.created_at >= this_round_opened)
                    .correlate(Contest).exists())
    # A sealed contest's close sheet waits for the organiser's close (its board opens then, not at closes_at).
    closed = or_(Contest.status == ContestStatus.CLOSED,
                 and_(Contest.status != ContestStatus.DRAFT, Contest.closes_at <= now, Contest.board_sealed.is_(False),
                      ~rounds_to_come))
    async with autocommit(sessions) as session:
        rows = (await session.execute(
            select(Contest.id, Contest.slug, closed, LedgerHead.entries, last(checkpoints.taken_at),
                   last(checkpoints.entries), closed_taken, close_signed)
            .outerjoin(LedgerHead, LedgerHead.contest_id == Contest.id)
            .where(Contest.status != ContestStatus.DRAFT)
            .where(or_(LedgerHead.contest_id.is_not(None), closed))
            .order_by(Contest.id))).all()  # oldest contest first, not in whatever order the join meets the rows
    return [ContestRound(*row) for row in rows]


async def checkpoint_pass(sessions: Sessions, key: Ed25519PrivateKey, now: datetime) -> list[str]:
    """Take the checkpoints (and sign the sheets) that are due; returns what was done, e.g. `demo:hourly`."""
    done = []
    for contest in await contests_to_look_at(sessions, now):
        if contest.closed and not contest.close_taken:
            async with sessions.begin() as session:
                await ledger.take_checkpoint(session, contest.contest_id, CLOSE)
            done.append(f"{contest.slug}:{CLOSE}")
            done.extend(await sign(sessions, key, contest, CLOSE))
        elif contest.closed and not contest.close_signed:
            # The close's sheet was cut short (a crash after its checkpoint) or refused (a ledger that did not
            # verify, since mended): tried again each pass, or the public would never get its results.
            done.extend(await sign(sessions, key, contest, CLOSE))
        elif ledger.hourly_due(contest.last_checkpoint_at, contest.last_checkpoint_entries, contest.head_entries,
                               now):
            async with sessions.begin() as session:
                await ledger.take_checkpoint(session, contest.contest_id, HOURLY)
            done.append(f"{contest.slug}:{HOURLY}")
            if contest.closed:  # a payment confirmed after close (its prompt went out before): signed again
                done.extend(await sign(sessions, key, contest, AFTER_CLOSE))
    return done


async def sign(sessions: Sessions, key: Ed25519PrivateKey, contest: ContestRound, reason: str) -> list[str]:
    try:
        await signing.sign_results(sessions, key, contest.contest_id, reason=reason, signed_by="system")
    except Conflict as exc:  # a ledger that does not verify: said loudly, never signed
        log.error("results of %s not signed (%s): %s", contest.slug, reason, exc.message)
        return []
    return [f"{contest.slug}:signed"]
