"""Read-side queries: contests, their candidates, and orders as a voter may see them.

What they return are the core's plain values (`PublicContest`, `PublicCandidate`, `VoterOrder`), never
ORM rows: every channel reads the same facts, and USSD can cache them as JSON.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.contests.price_tiers import PriceTier, order_amount, tiers_of
from gateway.core.contests.ranking import PublicBoard, public_board
from gateway.core.contests.rules import VotingState, voting_state
from gateway.core.errors import NotFound
from gateway.core.media_storage import MediaStorage
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import (
    Candidate,
    CandidateStatus,
    Contest,
    ContestStatus,
    MediaUpload,
    OrderStatus,
    UploadState,
    VoteOrder,
)

PUBLIC_STATUSES = (ContestStatus.OPEN, ContestStatus.PAUSED, ContestStatus.CLOSED)
# How every public list orders candidates: the organiser's order, then their codes ("9" before "10").
MAX_ID = 2**31 - 1  # the ids' column is a PostgreSQL integer: a larger number (a forged link) names no row
DISPLAY_ORDER = (Candidate.position, func.length(Candidate.code), Candidate.code)


@dataclass(frozen=True)
class PublicClip:
    """A candidate's ready clip as viewers fetch it: finished URLs, so no channel needs the storage.

    `mp4_720p` is None when the source was too small to make it (media.processing makes 360p always)."""

    poster: str | None
    mp4_360p: str
    mp4_720p: str | None = None
    seconds: float | None = None
    width: int | None = None  # the source's, for its shape: a page reserves the player's room before it loads
    height: int | None = None
    thumb: str | None = None  # the poster small, for lists (None: the storage made none; lists take the poster)

    @classmethod
    def of(cls, upload: MediaUpload, storage: MediaStorage) -> PublicClip | None:
        """The clip's URLs, None unless it is ready with its 360p rendition (never a half-made clip)."""
        files = upload.files or {}
        if upload.state is not UploadState.READY or "360p" not in files:
            return None

        def url(name: str) -> str | None:
            made = files.get(name)
            return (made.get("url") or storage.public_url(made["key"])) if isinstance(made, dict) else None

        facts = upload.facts or {}
        seconds, width, height = facts.get("seconds"), facts.get("width"), facts.get("height")
        return cls(url("poster"), url("360p") or "", url("720p"),
                   float(seconds) if isinstance(seconds, int | float) else None,
                   width if isinstance(width, int) and width > 0 else None,
                   height if isinstance(height, int) and height > 0 else None, url("thumb"))


@dataclass(frozen=True)
class PublicCandidate:
    id: int
    code: str
    name: str
    status: CandidateStatus  # active or eliminated: hidden candidates are never public
    photo_url: str | None = None
    bio: str | None = None
    clip: PublicClip | None = None  # only where the caller asked for clips (the pages, the API)

    @classmethod
    def of(cls, candidate: Candidate, clip: PublicClip | None = None) -> PublicCandidate:
        return cls(candidate.id, candidate.code, candidate.name, candidate.status, candidate.photo_url, candidate.bio,
                   clip)


@dataclass(frozen=True)
class PublicContest:
    """A contest as every channel knows it (never a draft)."""

    id: int
    slug: str
    name: str
    status: ContestStatus
    opens_at: datetime
    closes_at: datetime
    price_per_vote: int
    currency: str
    max_votes_per_order: int
    providers: tuple[str, ...]
    default_language: str
    show_counts: bool
    board_frozen_at: datetime | None
    candidates: tuple[PublicCandidate, ...] = ()
    stars_per_vote: int | None = None  # the price of a vote in Stars (None: not sold for Stars)
    board_sealed: bool = False  # sealed until close: ask `public_board()`, which knows when it opens
    # The channels' own settings of the contest, by field (gateway.core.channel_settings), as the vote service
    # found them: what one channel may show of another's (a short code to text) without importing it.
    channel_fields: dict[str, Any] = field(default_factory=dict)
    country: str = "CM"  # its audience's (gateway.core.market): how a number typed without its code is read
    time_zone: str = "Africa/Douala"  # how its times are shown
    price_tiers: tuple[PriceTier, ...] = ()  # its bundles, by votes: what every channel offers (price_tiers)
    late_grace_seconds: int = 300  # the published late-vote rule's grace (gateway.core.contests.late_votes)
    # The free votes a number may take in a period (0: the contest gives none; None: not known, as in a record cached
    # before it was kept, so ask the database): a menu that offers none need not look up the caller's.
    free_votes_per_day: int | None = None

    @classmethod
    def of(cls, contest: Contest, candidates: tuple[PublicCandidate, ...] = ()) -> PublicContest:
        return cls(
            id=contest.id, slug=contest.slug, name=contest.name, status=contest.status, opens_at=contest.opens_at,
            closes_at=contest.closes_at, price_per_vote=contest.price_per_vote, currency=contest.currency,
            max_votes_per_order=contest.max_votes_per_order, providers=tuple(contest.providers),
            default_language=contest.default_language, show_counts=contest.show_counts,
            board_frozen_at=contest.board_frozen_at, candidates=candidates, stars_per_vote=contest.stars_per_vote,
            board_sealed=contest.board_sealed,
            country=contest.country, time_zone=contest.time_zone, price_tiers=tiers_of(contest.price_tiers),
            late_grace_seconds=contest.late_grace_seconds, free_votes_per_day=contest.free_votes_per_day,
        )

    def public_board(self) -> PublicBoard:
        """What any public channel may show of this contest's board (the core's one rule)."""
        return public_board(self.show_counts, self.board_sealed, self.status)

    def voting(self, now: datetime) -> VotingState:
        return voting_state(self.status, self.opens_at, self.closes_at, now)

    def amount_of(self, quantity: int) -> int:
        """What `quantity` votes cost in its currency (a bundle's amount for a bundle's votes): what a channel
        shows before the vote is the order's amount after."""
        return order_amount(quantity, self.price_per_vote, self.price_tiers)


@dataclass(frozen=True)
class VoterOrder:
    """An order as its voter may see it: an order's link may be shared, so the number comes masked."""

    id: uuid.UUID
    status: OrderStatus
    status_reason: str | None
    contest_id: int
    contest_slug: str
    candidate_code: str
    candidate_name: str
    quantity: int
    amount: int
    currency: str
    provider: str
    channel: str  # the name of the channel it came through
    msisdn: str | None  # masked
    created_at: datetime
    expires_at: datetime
    payment_started_at: datetime | None
    entry_fee: bool = False  # the order pays an entry's fee (its candidate's code and name are "")
    # The provider's code of the payment, which its own message to the payer quotes (M-Pesa's receipt number); shown
    # only where the provider's payers get one (gateway.core.orders.receipts.shown_to_voter).
    receipt_code: str | None = None

    @property
    def reference(self) -> str:
        """Eight characters of the order id: enough for support to find it, short for a phone's screen."""
        return self.id.hex[:8].upper()

    @classmethod
    def of(cls, order: VoteOrder, contest_slug: str, candidate_code: str, candidate_name: str) -> VoterOrder:
        return cls.of_columns({name: getattr(order, name) for name in ORDER_COLUMNS}, contest_slug, candidate_code,
                              candidate_name)

    @classmethod
    def of_columns(cls, order: Mapping[str, Any], contest_slug: str, candidate_code: str,
                   candidate_name: str) -> VoterOrder:
        """From an order's `ORDER_COLUMNS` as read (by name), without the ORM object."""
        return cls(
            id=order["id"], status=order["status"], status_reason=order["status_reason"],
            contest_id=order["contest_id"], contest_slug=contest_slug, candidate_code=candidate_code,
            candidate_name=candidate_name, quantity=order["quantity"], amount=order["amount"],
            currency=order["currency"], provider=order["provider"], channel=order["channel"],
            msisdn=mask_msisdn(order["voter_msisdn"]), created_at=order["created_at"], expires_at=order["expires_at"],
            payment_started_at=order["payment_started_at"], entry_fee=order["entry_id"] is not None,
            receipt_code=order["provider_txn_id"],
        )


# The columns of an order a voter's view of it is made of (`VoterOrder.of_columns`).
ORDER_COLUMNS = ("id", "status", "status_reason", "contest_id", "quantity", "amount", "currency", "provider", "channel",
                 "voter_msisdn", "created_at", "expires_at", "payment_started_at", "entry_id", "provider_txn_id")


def mask_msisdn(msisdn: str | None) -> str | None:
    """+237670000001 -> +2376*****001: enough for the voter to recognise, useless to anyone else."""
    if not msisdn:
        return None
    return msisdn[:5] + "*" * max(0, len(msisdn) - 8) + msisdn[-3:]


async def public_contests(sessions: Sessions) -> list[PublicContest]:
    """Contests the public may see (not drafts), soonest closing first."""
    async with autocommit(sessions) as session:
        rows = await session.scalars(
            select(Contest).where(Contest.status.in_(PUBLIC_STATUSES)).order_by(Contest.closes_at, Contest.id)
        )
        return [PublicContest.of(contest) for contest in rows]


async def contest_by_slug(sessions: Sessions, slug: str, storage: MediaStorage | None = None) -> PublicContest:
    """A public contest and its active candidates in the organiser's order; with a storage, each with its ready
    clip's URLs (one more query: the phone channels, which show no clip, go without)."""
    async with autocommit(sessions) as session:
        contest = await session.scalar(
            select(Contest).where(Contest.slug == slug, Contest.status.in_(PUBLIC_STATUSES))
        )
        if contest is None:
            raise NotFound(f"No contest is called {slug!r}.", code="contest_not_found")
        candidates = list(await session.scalars(
            select(Candidate)
            .where(Candidate.contest_id == contest.id, Candidate.status == CandidateStatus.ACTIVE)
            .order_by(*DISPLAY_ORDER)
        ))
        clips = await clips_of(session, candidates, storage) if storage is not None else {}
        return PublicContest.of(contest, tuple(PublicCandidate.of(c, clips.get(c.id)) for c in candidates))


async def photo_shown(sessions: Sessions, photo_url: str) -> bool:
    """Whether viewers may fetch an organiser's photo: it is a shown candidate's (not a hidden one's, nor one
    replaced since)."""
    async with sessions() as session:
        shown = await session.scalar(select(select(Candidate.id).where(
            Candidate.photo_url == photo_url, Candidate.status != CandidateStatus.HIDDEN).exists()))
    return bool(shown)


async def clips_of(session: AsyncSession, candidates: list[Candidate],
                   storage: MediaStorage) -> dict[int, PublicClip]:
    """The ready clips of these candidates, by candidate id."""
    clip_ids = {c.clip_id: c.id for c in candidates if c.clip_id is not None}
    if not clip_ids:
        return {}
    uploads = await session.scalars(select(MediaUpload).where(MediaUpload.id.in_(list(clip_ids)),
                                                              MediaUpload.state == UploadState.READY))
    clips = {clip_ids[upload.id]: PublicClip.of(upload, storage) for upload in uploads}
    return {candidate_id: clip for candidate_id, clip in clips.items() if clip is not None}


async def public_candidate_ref(sessions: Sessions, candidate_id: int) -> tuple[str, str] | None:
    """(contest slug, candidate code) of an active candidate of a public contest, for a short link; else None
    (a hidden or eliminated candidate, a draft contest: a shared link leads nowhere it should not)."""
    if not 0 < candidate_id <= MAX_ID:
        return None
    async with autocommit(sessions) as session:
        row = (await session.execute(
            select(Contest.slug, Candidate.code).join(Contest, Contest.id == Candidate.contest_id)
            .where(Candidate.id == candidate_id, Candidate.status == CandidateStatus.ACTIVE,
                   Contest.status.in_(PUBLIC_STATUSES)))).one_or_none()
    return (row[0], row[1]) if row is not None else None


async def contest_by_id(sessions: Sessions, contest_id: int) -> PublicContest | None:
    """A contest without its candidates (as an order's page names it), drafts included: an order exists."""
    async with autocommit(sessions) as session:
        contest = await session.get(Contest, contest_id)
        return PublicContest.of(contest) if contest is not None else None


async def contests_with_menus(sessions: Sessions, contest_ids: Select[int]) -> tuple[PublicContest, ...]:
    """Every public contest among `contest_ids` (a channel's query of its own table: those a USSD code dials;
    drafts are invisible), soonest closing first, with the candidates a menu lists (eliminated ones too, hidden
    ones never) in the organiser's order."""
    async with autocommit(sessions) as session:
        contests = list(await session.scalars(
            select(Contest)
            .where(Contest.id.in_(contest_ids), Contest.status != ContestStatus.DRAFT)
            .order_by(Contest.closes_at, Contest.id)
        ))
        candidates = list(await session.scalars(
            select(Candidate)
            .where(Candidate.contest_id.in_([c.id for c in contests]), Candidate.status != CandidateStatus.HIDDEN)
            .order_by(*DISPLAY_ORDER)
        )) if contests else []
    return tuple(PublicContest.of(contest, tuple(PublicCandidate.of(c) for c in candidates
                                                 if c.contest_id == contest.id))
                 for contest in contests)


async def order_view(sessions: Sessions, order_id: uuid.UUID) -> VoterOrder:
    async with autocommit(sessions) as session:
        row = (await session.execute(
            select(VoteOrder, Contest.slug, Candidate.code, Candidate.name)
            .join(Contest, Contest.id == VoteOrder.contest_id)
            .outerjoin(Candidate, Candidate.id == VoteOrder.candidate_id)  # none for an entry's fee
            .where(VoteOrder.id == order_id)
        )).one_or_none()
    if row is None:
        raise NotFound("No vote order has that id.", code="order_not_found")
    order, slug, code, name = row
    return VoterOrder.of(order, slug, code or "", name or "")
