"""Free votes: a number a channel proves takes a contest's free votes, counted apart from the paid ones.

A contest gives each phone number `free_votes_per_day` free votes per `free_votes_per` period: "day", the contest's
local day (its `time_zone`: a Nairobi show's day starts at midnight in Nairobi), or "round", its open round
(`current_round_id`). The number is proven by the channel that brings it: a USSD session's MSISDN (the operator's),
an SMS's sender (the operator's too), a code texted to it for the web and the bot (`gateway.kit.phone_proof`, as an
entry's number is proven).

A free vote is not an order: it never reaches a provider, the money checks, a settlement or a refund. It is its own
row (`free_votes`), appended to the contest's ledger as a `free` entry (quantity 1, amount 0) in the same hash chain,
which moves the candidate's free tally (`free_tallies`, never the paid `tallies`) in the same statement, and queues
the board's refresh (topic `vote.free`). So `gateway ledger verify` checks the free votes against the ledger apart
from the paid ones, and the paid invariant (a tally is its paid orders' votes) holds as before.

How a free vote weighs is the organiser's `free_vote_weight`: "counted", one free vote adds one to the candidate's
figure on the board (as a paid vote does); "apart" (the default, so giving free votes never changes a paid ranking
by surprise), the board shows them as `free_votes` beside the paid `votes` and ranks by the paid votes alone.
Results sheets always list them apart (a `free` line per candidate), whatever the weight.

The allowance is the database's to keep: a claim takes the payer's transaction lock (the one an order's placement
takes), counts the period's free votes of the number, and inserts the next `slot`; the unique key
(contest, number, period, slot) refuses a slot taken twice even without the lock. The fraud rules that apply to a
vote with no money apply: the blocklist of numbers and of addresses (the web's), and the contest's per-number limit
of a minute; a refused claim records nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, String, bindparam, cast, func, insert, literal, select
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.contests.rules import VotingState as VotingState
from gateway.core.contests.rules import check_candidate, check_contest_open, voting_state
from gateway.core.errors import Conflict, NotFound, RateLimited, VoteRejected
from gateway.core.outbox import emit
from gateway.core.phone import InvalidMsisdn, normalise_msisdn
from gateway.core.results import ledger
from gateway.core.texts import CORE
from gateway.core.voters.blocklist import inet_of
from gateway.db.engine import Sessions, autocommit
from gateway.db.models import BlockedAddress, BlockedMsisdn, Candidate, Contest, FreeVote

FREE_TOPIC = "vote.free"  # the board's news of a free vote (leaderboard.refresh)


class FreePer(StrEnum):
    DAY = "day"
    ROUND = "round"


class FreeWeight(StrEnum):
    COUNTED = "counted"  # one free vote is one more on the board
    APART = "apart"  # shown beside the paid count, never added to it


class FreeVoteUsed(Conflict):
    """The number has taken its period's free votes (`per`: today's, or this round's)."""

    code = "free_vote_used"

    def __init__(self, message: str, per: FreePer) -> None:
        super().__init__(message, field="msisdn")
        self.per = per


class NoFreeVotes(VoteRejected):
    """The contest gives no free vote (now)."""

    code = "no_free_votes"


@dataclass(frozen=True)
class FreeVoteRequest:
    contest_slug: str
    candidate_code: str
    msisdn: str  # proven by `channel`: the session's, the sender's, or a texted code's
    channel: str
    voter_address: str | None = None  # the web client's address, for the address blocklist


@dataclass(frozen=True)
class TakenFreeVote:
    id: uuid.UUID
    contest_name: str
    candidate_code: str
    candidate_name: str
    left: int  # the number's free votes left in the period
    per: FreePer


def code_text(lang: str, code: str, contest_name: str) -> str:
    """The text that proves a number for a free vote on the web or in the bot (gateway.kit.phone_proof)."""
    t = CORE.translations(lang)
    return t.gettext("{code} is your code for a free vote in {contest}. It expires in 10 minutes.").format(
        code=code, contest=contest_name)


def period_of(contest: Contest, now: datetime) -> str | None:
    """What the contest's allowance is counted in at `now`: its local day, or its open round (None: no round open,
    so no free vote by round)."""
    if contest.free_votes_per == FreePer.ROUND:
        return f"round:{contest.current_round_id}" if contest.current_round_id is not None else None
    return f"day:{now.astimezone(ZoneInfo(contest.time_zone)).date().isoformat()}"


def gives_free_votes(contest: Contest, now: datetime) -> bool:
    """The contest gives free votes and takes votes now."""
    return (contest.free_votes_per_day > 0 and period_of(contest, now) is not None
            and voting_state(contest.status, contest.opens_at, contest.closes_at, now) is VotingState.OPEN)


def number_of(msisdn: str) -> str:
    try:
        return normalise_msisdn(msisdn)
    except InvalidMsisdn as exc:
        raise VoteRejected(f"{msisdn} is not a valid phone number.", code="invalid_msisdn", field="msisdn") from exc


async def _taken(session: AsyncSession, contest_id: int, msisdn: str, period: str) -> int:
    count = await session.scalar(select(func.count()).select_from(FreeVote).where(
        FreeVote.contest_id == contest_id, FreeVote.msisdn == msisdn, FreeVote.period == period))
    return int(count or 0)


async def free_votes_left(sessions: Sessions, contest_slug: str, msisdn: str, now: datetime | None = None) -> int:
    """How many free votes the number may still take in the contest now (0: none given, none left, or closed)."""
    now = now or datetime.now(UTC)
    number = number_of(msisdn)
    async with autocommit(sessions) as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == contest_slug))
        if contest is None or not gives_free_votes(contest, now):
            return 0
        period = period_of(contest, now)
        assert period is not None
        return max(0, contest.free_votes_per_day - await _taken(session, contest.id, number, period))


@dataclass(frozen=True)
class FreeTerms:
    """What a contest gives now (a page offering its free vote says it)."""

    per_day: int
    per: FreePer
    weight: FreeWeight


async def free_terms(sessions: Sessions, contest_slug: str, now: datetime | None = None) -> FreeTerms | None:
    """The contest's free votes if it gives some and takes votes now, else None."""
    now = now or datetime.now(UTC)
    async with autocommit(sessions) as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == contest_slug))
    if contest is None or not gives_free_votes(contest, now):
        return None
    return FreeTerms(contest.free_votes_per_day, FreePer(contest.free_votes_per), FreeWeight(contest.free_vote_weight))


async def free_left_by_contest(sessions: Sessions, contest_ids: Sequence[int], msisdn: str,
                               now: datetime | None = None) -> dict[int, int]:
    """The number's free votes left in each of the contests that gives some now (a menu offers them): one query when
    none of them gives free votes."""
    now = now or datetime.now(UTC)
    number = number_of(msisdn)
    async with autocommit(sessions) as session:
        giving = [contest for contest in (await session.scalars(select(Contest).where(
            Contest.id.in_(contest_ids), Contest.free_votes_per_day > 0))).all() if gives_free_votes(contest, now)]
        left = {}
        for contest in giving:
            period = period_of(contest, now)
            assert period is not None
            left[contest.id] = max(0, contest.free_votes_per_day - await _taken(session, contest.id, number, period))
    return left


async def take_free_vote(sessions: Sessions, request: FreeVoteRequest, now: datetime | None = None) -> TakenFreeVote:
    """Take one free vote for the candidate, or refuse it (nothing recorded): the contest gives none or is not open,
    the candidate is gone, the number or address is blocked, the number is over the contest's limit of a minute, or
    has taken its period's free votes (`FreeVoteUsed`)."""
    now = now or datetime.now(UTC)
    number = number_of(request.msisdn)
    try:
        async with sessions.begin() as session:
            # The payer's lock (orders' placement takes the same): one number's claims are counted one at a time.
            await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"payer:{number}"))))
            contest, candidate = await _contest_and_candidate(session, request)
            period = _checked_period(contest, now)
            check_candidate(candidate.status if candidate else None, request.candidate_code)
            assert candidate is not None
            await _check_standing(session, contest, number, request.voter_address, now)
            taken = await _taken(session, contest.id, number, period)
            if taken >= contest.free_votes_per_day:
                raise _used(contest)
            vote_id = uuid.uuid4()
            await session.execute(_CLAIM, {
                "fv_id": vote_id, "fv_contest": contest.id, "fv_round": contest.current_round_id,
                "fv_candidate": candidate.id, "fv_msisdn": number, "fv_period": period, "fv_slot": taken + 1,
                "fv_channel": request.channel, "fv_address": request.voter_address, "fv_currency": contest.currency})
            await emit(session, FREE_TOPIC, free_vote_id=str(vote_id), contest_id=contest.id)
    except IntegrityError as exc:
        if "uq_free_votes_number_slot" in str(exc):  # the slot was taken meanwhile: the lock makes this rare
            raise _used(contest) from exc
        raise
    return TakenFreeVote(vote_id, contest.name, candidate.code, candidate.name,
                         contest.free_votes_per_day - taken - 1, FreePer(contest.free_votes_per))


async def _contest_and_candidate(session: AsyncSession,
                                 request: FreeVoteRequest) -> tuple[Contest, Candidate | None]:
    contest = await session.scalar(select(Contest).where(Contest.slug == request.contest_slug))
    if contest is None:
        raise NotFound(f"No contest is called {request.contest_slug!r}.", code="contest_not_found")
    candidate = await session.scalar(select(Candidate).where(Candidate.contest_id == contest.id,
                                                             Candidate.code == request.candidate_code))
    return contest, candidate


def _checked_period(contest: Contest, now: datetime) -> str:
    if contest.free_votes_per_day <= 0:
        raise NoFreeVotes("This contest gives no free vote.")
    check_contest_open(contest, now)
    period = period_of(contest, now)
    if period is None:
        raise NoFreeVotes("No round is open: free votes come with a round.")
    return period


def _used(contest: Contest) -> FreeVoteUsed:
    per = FreePer(contest.free_votes_per)
    when = "this round" if per is FreePer.ROUND else "today"
    return FreeVoteUsed(f"This number has taken its free votes for {when}.", per)


async def _check_standing(session: AsyncSession, contest: Contest, number: str, address: str | None,
                          now: datetime) -> None:
    """The blocklist and the contest's per-number limit of a minute, as a paid vote's placement applies them."""
    if await session.scalar(select(BlockedMsisdn.msisdn).where(BlockedMsisdn.msisdn == number)) is not None:
        raise VoteRejected("This number cannot vote. Contact the organiser if you think this is a mistake.",
                           code="msisdn_blocked", field="msisdn")
    inet = inet_of(address)
    if inet is not None and await session.scalar(select(BlockedAddress.network).where(
            BlockedAddress.network.op(">>=")(cast(literal(inet), INET))).limit(1)) is not None:
        raise VoteRejected("Votes from your connection are refused. Contact the organiser if you think this is "
                           "a mistake.", code="address_blocked")
    if contest.max_orders_per_minute:
        recent = await session.scalar(select(func.count()).select_from(FreeVote).where(
            FreeVote.contest_id == contest.id, FreeVote.msisdn == number,
            FreeVote.created_at > now - _MINUTE))
        if int(recent or 0) >= contest.max_orders_per_minute:
            raise RateLimited(f"Too many votes from this number ({contest.max_orders_per_minute} in a minute). "
                              "Please try again later.", field="msisdn")


def _claim_statement() -> Any:
    """The free vote's row, its ledger entry and its free tally, in one statement: none exists without the others."""
    table = FreeVote.__table__
    columns = ("id", "contest_id", "round_id", "candidate_id", "msisdn", "period", "slot", "channel",
               "voter_address")
    values = [bindparam(f"fv_{name}", type_=table.c[column].type) for name, column in (
        ("id", "id"), ("contest", "contest_id"), ("round", "round_id"), ("candidate", "candidate_id"),
        ("msisdn", "msisdn"), ("period", "period"), ("slot", "slot"), ("channel", "channel"),
        ("address", "voter_address"))]
    claimed = insert(table).from_select(list(columns), select(*values)).returning(
        table.c.id, table.c.contest_id, table.c.candidate_id).cte("claimed")
    event = select(claimed.c.contest_id, literal(ledger.EntryKind.FREE.value, String).label("kind"),
                   claimed.c.id.label("order_id"), claimed.c.candidate_id, literal(1, Integer).label("quantity"),
                   literal(0, BigInteger).label("amount"), bindparam("fv_currency", type_=String).label("currency"),
                   literal(None, String).label("provider_txn_id")).cte("ledger_event")
    entry = ledger.append_ctes(event)
    return select(entry.c.seq).add_cte(claimed, entry, ledger.free_tally_added_from(entry))


_CLAIM = _claim_statement()
_MINUTE = timedelta(minutes=1)
