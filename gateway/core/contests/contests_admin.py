"""The organisers' operations on contests and candidates: each checked, each audited in its own transaction.

An organiser acts on the contests they created (or were given); an owner on every contest. The caller
(the admin area) checks the role's permission first; this module checks the contest's scope
(`gateway.core.contests.scope`, shared with settlements, payouts, refunds and entries), the state
machine (draft -> open <-> paused -> closed) and clashes with other live contests (each channel's own settings,
a USSD service code or an SMS keyword, through `gateway.core.channel_settings`), then writes the change and its
audit entry together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.channel_settings import ChannelContestSettings, ContestSettingValues, channel_fields
from gateway.core.contests import rounds
from gateway.core.contests.catalog import DISPLAY_ORDER
from gateway.core.contests.contest_drafts import (
    BoardVisibility,
    ContestDraft,
    board_visibility,
    check_candidate_fields,
    next_codes,
    parse_candidates_csv,
)
from gateway.core.contests.free_vote_settings import apply_free_votes, free_votes_snapshot
from gateway.core.contests.price_tiers import stored_tiers, tiers_of
from gateway.core.contests.scope import contest_in_scope, visible_to
from gateway.core.errors import Conflict, DomainError, NotFound
from gateway.core.fraud.rules import FraudRules
from gateway.core.media import uploads
from gateway.db.engine import Sessions
from gateway.db.models import (
    Candidate,
    CandidateStatus,
    Contest,
    ContestOrganiser,
    ContestStatus,
    Tally,
)
from gateway.db.seed import ensure_tallies

LIVE = (ContestStatus.OPEN, ContestStatus.PAUSED)
# Which status an action leads to, and from which statuses it may be taken.
TRANSITIONS: dict[str, tuple[ContestStatus, tuple[ContestStatus, ...]]] = {
    "open": (ContestStatus.OPEN, (ContestStatus.DRAFT, ContestStatus.PAUSED)),
    "pause": (ContestStatus.PAUSED, (ContestStatus.OPEN,)),
    "close": (ContestStatus.CLOSED, (ContestStatus.OPEN, ContestStatus.PAUSED)),
}
DONE = {"open": "opened", "pause": "paused", "close": "closed"}  # what a refusal says could not be done


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


def snapshot(contest: Contest, channels: Mapping[str, Any]) -> dict[str, Any]:
    """A contest's settings as the audit trail keeps them (before and after a change), with `channels`: the
    channels' own settings of it (`settings_of`)."""
    return {
        "name": contest.name, "slug": contest.slug, "status": contest.status.value,
        "price_per_vote": contest.price_per_vote, "currency": contest.currency, "country": contest.country,
        "time_zone": contest.time_zone, "max_votes_per_order": contest.max_votes_per_order,
        "opens_at": contest.opens_at.isoformat(),
        "closes_at": contest.closes_at.isoformat(), "providers": list(contest.providers),
        **channels, "show_counts": contest.show_counts,
        "board_frozen_at": contest.board_frozen_at.isoformat() if contest.board_frozen_at else None,
        "board": board_visibility(contest.show_counts, contest.board_frozen_at, contest.board_sealed).value,
        "default_language": contest.default_language, "stars_per_vote": contest.stars_per_vote,
        "fraud_rules": FraudRules.of(contest.fraud_rules).stored(),
        "price_tiers": stored_tiers(tiers_of(contest.price_tiers)), **free_votes_snapshot(contest),
        "late_grace_seconds": contest.late_grace_seconds,
    }


def candidate_snapshot(candidate: Candidate) -> dict[str, Any]:
    return {"code": candidate.code, "name": candidate.name, "status": candidate.status.value,
            "bio": candidate.bio, "photo_url": candidate.photo_url, "position": candidate.position}


def _apply(contest: Contest, draft: ContestDraft, now: datetime) -> None:
    contest.name, contest.slug = draft.name, draft.slug
    contest.price_per_vote, contest.currency = draft.price_per_vote, draft.currency
    contest.country, contest.time_zone = draft.country, draft.time_zone
    contest.opens_at, contest.closes_at = draft.opens_at, draft.closes_at
    contest.providers = list(draft.providers)
    contest.default_language, contest.stars_per_vote = draft.default_language, draft.stars_per_vote
    contest.fraud_rules = draft.fraud_rules.stored()
    contest.max_votes_per_order, contest.price_tiers = draft.max_votes_per_order, stored_tiers(draft.price_tiers)
    apply_free_votes(contest, draft.free_votes)
    if draft.late_grace_seconds is not None:
        contest.late_grace_seconds = draft.late_grace_seconds
    contest.show_counts = draft.board is not BoardVisibility.HIDDEN_COUNTS
    contest.board_sealed = draft.board is BoardVisibility.SEALED
    if draft.board is BoardVisibility.FROZEN:
        contest.board_frozen_at = draft.board_frozen_at or contest.board_frozen_at or now
    else:
        contest.board_frozen_at = None


async def _check_clashes(session: AsyncSession, contest: Contest, channels: Sequence[ContestSettingValues]) -> None:
    """A live contest's channels' settings (`channels`) are its own: another live one's that clash are refused."""
    others = and_(Contest.id != contest.id, Contest.status.in_(LIVE))
    live_others = dict((await session.execute(select(Contest.id, Contest.slug).where(others)
                                              .order_by(Contest.id))).all())
    for values in channels:
        await values.check_clashes(session, contest.id, live_others)


def _fields(channels: Sequence[ContestSettingValues]) -> dict[str, Any]:
    return {name: value for values in channels for name, value in values.fields().items()}


async def settings_of(session: AsyncSession, channels: Sequence[ChannelContestSettings],
                      contest_id: int) -> dict[str, Any]:
    """The channels' own settings of a contest, by field."""
    return (await channel_fields(session, channels, [contest_id]))[contest_id]


async def _slug_free(session: AsyncSession, slug: str, contest_id: int | None) -> None:
    taken = await session.scalar(select(Contest.id).where(Contest.slug == slug, Contest.id != (contest_id or 0)))
    if taken is not None:
        raise Conflict(f"The slug {slug} is taken.", code="slug_taken", field="slug")


async def create_contest(sessions: Sessions, actor: Actor, draft: ContestDraft) -> Contest:
    """A new contest, as a draft (nobody can vote until it is opened), run by its creator."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        await _slug_free(session, draft.slug, None)
        contest = Contest(status=ContestStatus.DRAFT, max_orders_per_minute=5, max_orders_per_day=200)
        _apply(contest, draft, now)
        session.add(contest)
        await session.flush()
        for values in draft.channel_settings:
            await values.save(session, contest.id)
        if actor.admin_id is not None:
            await session.execute(insert(ContestOrganiser).values(contest_id=contest.id, admin_id=actor.admin_id))
        await audit.record(session, actor, "contest.create", f"contest:{contest.id}",
                           after=snapshot(contest, _fields(draft.channel_settings)))
    return contest


async def update_contest(sessions: Sessions, actor: Actor, contest_id: int, draft: ContestDraft,
                         channels: Sequence[ChannelContestSettings] = ()) -> Contest:
    """Save a contest's settings; `channels` (those that parsed `draft.channel_settings`) give the values before."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        if contest.status is ContestStatus.CLOSED:
            raise Conflict("A closed contest cannot be changed.", code="contest_closed")
        before = snapshot(contest, await settings_of(session, channels, contest.id))
        await _slug_free(session, draft.slug, contest.id)
        published = rounds.PublishedTerms.of(contest)
        _apply(contest, draft, now)
        await rounds.keep_published_terms(session, contest, published)
        if contest.status in LIVE:
            await _check_clashes(session, contest, draft.channel_settings)
        for values in draft.channel_settings:
            await values.save(session, contest.id)
        await audit.record(session, actor, "contest.update", f"contest:{contest.id}", before=before,
                           after=snapshot(contest, _fields(draft.channel_settings)))
    return contest


async def change_status(sessions: Sessions, actor: Actor, contest_id: int, action: str,
                        channels: Sequence[ChannelContestSettings] = ()) -> Contest:
    """Open, pause or close a contest; opening checks it has a candidate, time left and no clash (with the
    settings of `channels` too)."""
    if action not in TRANSITIONS:
        raise DomainError(f"No action {action!r}.", code="invalid_action")
    target, sources = TRANSITIONS[action]
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        if contest.status not in sources:
            raise Conflict(f"A {contest.status.value} contest cannot be {DONE[action]}.", code="invalid_transition")
        if target is ContestStatus.OPEN:
            active = await session.scalar(select(func.count()).where(
                Candidate.contest_id == contest.id, Candidate.status == CandidateStatus.ACTIVE))
            if not active:
                raise Conflict("Add a candidate before opening the contest.", code="no_candidates")
            if contest.closes_at <= datetime.now(UTC):
                raise Conflict("The voting window has ended: move its close first.", code="window_over")
            await _check_clashes(session, contest, [(await channel.load(session, [contest.id]))[contest.id]
                                                    for channel in channels])
            await ensure_tallies(session, contest.id)
        own = await settings_of(session, channels, contest.id)
        before = snapshot(contest, own)
        contest.status = target
        await audit.record(session, actor, f"contest.{action}", f"contest:{contest.id}", before=before,
                           after=snapshot(contest, own))
    return contest


@dataclass(frozen=True)
class ContestDetail:
    contest: Contest
    candidates: list[Candidate]
    votes: dict[int, int]  # candidate id -> tally


async def channel_settings(sessions: Sessions, channels: Sequence[ChannelContestSettings],
                           contest_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The channels' own settings of each contest, by field (what the admin's form and API show)."""
    async with sessions() as session:
        return await channel_fields(session, channels, contest_ids)


async def list_contests(sessions: Sessions, actor: Actor) -> list[Contest]:
    async with sessions() as session:
        return list((await session.scalars(
            select(Contest).where(visible_to(actor)).order_by(Contest.created_at.desc()))).all())


async def contest_detail(sessions: Sessions, actor: Actor, contest_id: int) -> ContestDetail:
    async with sessions() as session:
        contest = await contest_in_scope(session, actor, contest_id)
        candidates = (await session.scalars(
            select(Candidate).where(Candidate.contest_id == contest.id).order_by(*DISPLAY_ORDER))).all()
        tallies = (await session.execute(
            select(Tally.candidate_id, Tally.votes).where(Tally.contest_id == contest.id))).all()
    return ContestDetail(contest, list(candidates), {row[0]: row[1] for row in tallies})


async def taken_codes(session: AsyncSession, contest_id: int) -> set[str]:
    """The codes the contest's candidates hold (a new candidate, an approved entry's, takes another)."""
    return set((await session.scalars(select(Candidate.code).where(Candidate.contest_id == contest_id))).all())


async def next_position(session: AsyncSession, contest_id: int) -> int:
    """The place after the contest's last candidate."""
    last = await session.scalar(select(func.max(Candidate.position)).where(Candidate.contest_id == contest_id))
    return (last or 0) + 1


async def _in_order(session: AsyncSession, contest_id: int, *, lock: bool = True) -> list[Candidate]:
    query = select(Candidate).where(Candidate.contest_id == contest_id).order_by(*DISPLAY_ORDER)
    return list((await session.scalars(query.with_for_update(key_share=True) if lock else query)).all())


def moved(codes: list[str], code: str, direction: str) -> list[str]:
    """The order with one candidate a place up or down (at an end it stays)."""
    if direction not in ("up", "down"):
        raise DomainError("direction: up or down.", code="invalid_field", field="direction")
    at = codes.index(code)
    to = max(0, at - 1) if direction == "up" else min(len(codes) - 1, at + 1)
    codes = list(codes)
    codes[at], codes[to] = codes[to], codes[at]
    return codes


async def reorder_candidates(sessions: Sessions, actor: Actor, contest_id: int, order: list[str]) -> list[Candidate]:
    """The display order of every public list: `order` names each of the contest's candidates once, by code."""
    order = [str(code).strip() for code in order]
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        candidates = await _in_order(session, contest.id)
        before = [c.code for c in candidates]
        if sorted(order) != sorted(before):
            raise DomainError("order must name every candidate of the contest once, by code: "
                              + ", ".join(before) + ".", code="invalid_field", field="order")
        by_code = {c.code: c for c in candidates}
        for position, code in enumerate(order, start=1):
            by_code[code].position = position
        await audit.record(session, actor, "candidate.reorder", f"contest:{contest.id}", before={"order": before},
                           after={"order": order})
    return [by_code[code] for code in order]


async def move_candidate(sessions: Sessions, actor: Actor, candidate_id: int, direction: str) -> Candidate:
    """One place up or down in its contest's display order (the pages' arrows)."""
    candidate = await candidate_of(sessions, actor, candidate_id)
    async with sessions() as session:
        codes = [c.code for c in await _in_order(session, candidate.contest_id, lock=False)]
    await reorder_candidates(sessions, actor, candidate.contest_id, moved(codes, candidate.code, direction))
    return candidate


async def add_candidate(sessions: Sessions, actor: Actor, contest_id: int, name: str, code: str | None = None,
                        bio: str | None = None) -> Candidate:
    code = (code or "").strip() or None
    name, bio = check_candidate_fields(name, code, bio)
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        if contest.status is ContestStatus.CLOSED:
            raise Conflict("A closed contest cannot be changed.", code="contest_closed")
        taken = await taken_codes(session, contest.id)
        code = code.zfill(2) if code else next_codes(taken, 1)[0]
        if code in taken:
            raise Conflict(f"The code {code} is taken.", code="code_taken", field="code")
        candidate = Candidate(contest_id=contest.id, code=code, name=name, bio=bio,
                              position=await next_position(session, contest.id))
        session.add(candidate)
        await session.flush()
        await ensure_tallies(session, contest.id)
        await rounds.join_open_round(session, contest.id, [candidate.id])
        await audit.record(session, actor, "candidate.create", f"contest:{contest.id}",
                           after=candidate_snapshot(candidate))
    return candidate


async def import_candidates(sessions: Sessions, actor: Actor, contest_id: int, text: str) -> list[Candidate]:
    """Every row of a CSV, or none: a bad line is reported (by line number) and nothing is imported."""
    async with sessions.begin() as session:
        contest = await contest_in_scope(session, actor, contest_id, lock=True)
        if contest.status is ContestStatus.CLOSED:
            raise Conflict("A closed contest cannot be changed.", code="contest_closed")
        taken = await taken_codes(session, contest.id)
        rows = parse_candidates_csv(text, taken)
        free = iter(next_codes(taken | {row.code for row in rows if row.code}, len(rows)))
        first = await next_position(session, contest.id)
        made = [Candidate(contest_id=contest.id, code=row.code or next(free), name=row.name, bio=row.bio,
                          position=first + n) for n, row in enumerate(rows)]
        session.add_all(made)
        await session.flush()
        await ensure_tallies(session, contest.id)
        await rounds.join_open_round(session, contest.id, [c.id for c in made])
        await audit.record(session, actor, "candidate.import", f"contest:{contest.id}",
                           after={"candidates": [candidate_snapshot(c) for c in made]})
    return made


async def _candidate(session: AsyncSession, actor: Actor, candidate_id: int) -> Candidate:
    candidate = await session.get(Candidate, candidate_id, with_for_update={"key_share": True})
    if candidate is None:
        raise NotFound(f"No candidate {candidate_id}.", code="candidate_not_found")
    await contest_in_scope(session, actor, candidate.contest_id)
    return candidate


async def edit_candidate(sessions: Sessions, actor: Actor, candidate_id: int, name: str, bio: str | None) -> Candidate:
    name, bio = check_candidate_fields(name, None, bio)
    async with sessions.begin() as session:
        candidate = await _candidate(session, actor, candidate_id)
        before = candidate_snapshot(candidate)
        candidate.name, candidate.bio = name, bio
        await audit.record(session, actor, "candidate.update", f"candidate:{candidate.id}", before=before,
                           after=candidate_snapshot(candidate))
    return candidate


async def set_candidate_status(sessions: Sessions, actor: Actor, candidate_id: int, status: str) -> Candidate:
    """Eliminate (keeps its place and votes, takes no more), hide (off the board and menus), or restore."""
    try:
        wanted = CandidateStatus(status)
    except ValueError:
        raise DomainError("status: active, eliminated or hidden.", code="invalid_field", field="status") from None
    async with sessions.begin() as session:
        candidate = await _candidate(session, actor, candidate_id)
        before = candidate_snapshot(candidate)
        was_hidden = candidate.status is CandidateStatus.HIDDEN
        candidate.status = wanted
        await audit.record(session, actor, f"candidate.{wanted.value}", f"candidate:{candidate.id}", before=before,
                           after=candidate_snapshot(candidate))
        if was_hidden != (wanted is CandidateStatus.HIDDEN):
            await uploads.note_candidate_media(session, candidate)
        if wanted is CandidateStatus.ACTIVE:
            await rounds.join_open_round(session, candidate.contest_id, [candidate.id])
    return candidate


async def candidate_of(sessions: Sessions, actor: Actor, candidate_id: int) -> Candidate:
    async with sessions() as session:
        candidate = await session.get(Candidate, candidate_id)
        if candidate is None:
            raise NotFound(f"No candidate {candidate_id}.", code="candidate_not_found")
        await contest_in_scope(session, actor, candidate.contest_id)
    return candidate
