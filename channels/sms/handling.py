"""One inbound SMS, handled in a job: read it, vote through the core, answer. A job run twice answers
once (one reply per inbound and kind) and places one order (the order's client key is AT's id)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from channels.phone.contest_takes import phone_labels, phone_providers, takes_message
from channels.phone.texts import provider_label, refusal_message
from channels.sms import free_votes, store, texts
from channels.sms.parser import Command, Request, language_of, normalise, parse
from channels.sms.sender import Route, SmsSender
from channels.sms.store import Outgoing
from gateway.core.contests.catalog import PublicCandidate, PublicContest
from gateway.core.contests.rules import VotingState
from gateway.core.errors import DomainError
from gateway.core.market import of_country
from gateway.core.money_in.starting import ClaimedStart
from gateway.core.orders import placing
from gateway.core.providers import Capability
from gateway.core.service import VoteService
from gateway.core.texts import Lang
from gateway.db.engine import Sessions
from gateway.db.models import CandidateStatus, ContestStatus
from gateway.kit.phone_wallets import PhoneWallets

log = logging.getLogger(__name__)
CHANNEL = "sms"  # an order's channel (its ChannelParts' name)


@dataclass
class CollectedStarts:
    """The core's PaymentStarter for a job: the prompt is pushed after the reply, by the job itself, on the lease its
    order's insert took (a statement and a commit fewer a vote; a reply that took over `CLAIM_KEPT_SECONDS`, AT
    retrying, has the start renew it: gateway.core.money_in.starting.fresh_claim)."""

    owed: list[tuple[uuid.UUID, ClaimedStart | None]] = field(default_factory=list)
    claims_at_placement: ClassVar[bool] = True

    def request(self, order_id: uuid.UUID, *, after: float = 0.0, claimed: ClaimedStart | None = None) -> None:
        if all(owed != order_id for owed, _ in self.owed):
            self.owed.append((order_id, claimed))

    async def wait_for_room(self) -> None:
        return None


@dataclass(frozen=True)
class SmsContext:
    service: VoteService
    starts: CollectedStarts
    sessions: Sessions
    sender: SmsSender
    start: Callable[[uuid.UUID, ClaimedStart | None], Awaitable[object]]  # pushes an order's payment prompt
    wallets: PhoneWallets  # the providers' wallets: the words that name them, the numbers whose wallet each is


@dataclass(frozen=True)
class Turn:
    """The message being answered, with what it was read as."""

    message: store.Received
    request: Request
    contests: tuple[PublicContest, ...]
    keywords: dict[int, str]  # each contest's keyword on the message's short code
    lang: Lang
    quiet: bool  # the number sent STOP: no replies (receipts still go)


def client_key(at_id: str) -> str:
    return f"sms:{at_id}"


def short_reference(order_id: uuid.UUID) -> str:
    return order_id.hex[:8].upper()


def keyword_key(keyword: str) -> str:
    return normalise(keyword).replace(" ", "")


async def handle_inbound(ctx: SmsContext, inbound_id: int) -> str:
    """The outcome kept on the row (vote, help, top, stop, bad_quantity, unrecognised, refused, …)."""
    message = await store.received(ctx.sessions, inbound_id)
    if message is None:
        return "done"
    # Open contests first: a closed one keeping the same short code and keyword does not shadow its successor.
    keywords = message.keywords
    contests = tuple(sorted((c for c in await ctx.service.public_contests() if c.id in keywords),
                            key=lambda c: c.status is not ContestStatus.OPEN))
    caller = await ctx.service.caller(message.msisdn)
    # A number never heard from is answered in the language its words are of (MSAADA: Swahili), else the contest's.
    lang = (caller.language or Lang.parse(language_of(message.text))
            or (Lang.parse(contests[0].default_language) if contests else None) or Lang.FR)
    limits = {keyword_key(keywords[c.id]): c.max_votes_per_order for c in contests}
    turn = Turn(message, parse(message.text, limits, ctx.wallets.sms_words()), contests, keywords, lang,
                quiet=message.opted_out)
    outcome, order_id = await answer(ctx, turn)
    await store.note_outcome(ctx.sessions, inbound_id, outcome, order_id)
    for owed, claimed in ctx.starts.owed:
        try:
            await ctx.start(owed, claimed)
        except Exception:  # the order is kept: the reconciler starts what never started
            log.warning("SMS order %s: payment prompt not pushed now", owed, exc_info=True)
    ctx.starts.owed.clear()
    return outcome


async def answer(ctx: SmsContext, turn: Turn) -> tuple[str, uuid.UUID | None]:
    request, lang = turn.request, turn.lang
    if request.command is Command.STOP:
        await store.opt_out(ctx.sessions, turn.message.msisdn)
        await reply(ctx, turn, "stop", texts.sms_texts(lang).stopped, force=True)
        return "stop", None
    if not turn.contests:
        await reply(ctx, turn, "no_contest", texts.sms_texts(lang).no_contest)
        return "no_contest", None
    free = free_votes.parse_free(turn.message.text, {keyword_key(k) for k in turn.keywords.values()})
    if free is not None:  # FREE 07: the sender's number takes its free vote
        chosen = await ctx.service.contest(contest_for(turn, free.keyword).slug)  # with its candidates
        outcome, text = await free_votes.take(ctx.sessions, chosen, free, turn.message.msisdn, lang)
        await reply(ctx, turn, outcome, text)
        return outcome, None
    contest = contest_for(turn, request.keyword)
    keyword = turn.keywords[contest.id]
    if request.command is Command.TOP:
        await reply(ctx, turn, "top", await top_text(ctx, contest, lang))
        return "top", None
    if request.command is Command.BAD_QUANTITY:
        await reply(ctx, turn, "bad_quantity", texts.bad_quantity(lang, contest.max_votes_per_order, keyword))
        return "bad_quantity", None
    if request.command is Command.VOTE:
        return await vote(ctx, turn, contest)
    await reply(ctx, turn, "usage", texts.usage(lang, keyword, turn.message.short_code))
    if contest.price_tiers:  # its bundles, in a message of their own: the usage fills one already
        await reply(ctx, turn, "bundles", texts.bundles(lang, [(t.votes, t.amount) for t in contest.price_tiers],
                                                        contest.currency))
    return ("help" if request.command is Command.HELP else "unrecognised"), None


def contest_for(turn: Turn, keyword: str | None) -> PublicContest:
    return next((c for c in turn.contests if keyword and keyword_key(turn.keywords[c.id]) == keyword),
                turn.contests[0])


async def top_text(ctx: SmsContext, contest: PublicContest, lang: Lang) -> str:
    """The board's first five as the leaderboard ranks them (ties share a rank)."""
    board = await ctx.service.top(contest.id, 5)
    if board.sealed:
        return texts.sms_texts(lang).top_sealed
    rows = [(row.rank, row.candidate.code, row.candidate.name, row.votes if board.show_counts else None)
            for row in board.rows if row.votes > 0]
    return texts.top(lang, rows)


def candidate_for(contest: PublicContest, code: str) -> PublicCandidate | None:
    """`7` finds `07`: people drop leading zeros."""
    active = [c for c in contest.candidates if c.status is CandidateStatus.ACTIVE]
    exact = next((c for c in active if c.code == code), None)
    return exact or next((c for c in active if c.code.isdigit() and int(c.code) == int(code)), None)


async def vote(ctx: SmsContext, turn: Turn, listed: PublicContest) -> tuple[str, uuid.UUID | None]:
    request, lang, message = turn.request, turn.lang, turn.message
    contest = await ctx.service.contest(listed.slug)
    candidate = candidate_for(contest, request.candidate or "")
    if candidate is None:
        await reply(ctx, turn, "unknown_candidate",
                    texts.unknown_candidate(lang, request.candidate or "", turn.keywords[listed.id]))
        return "unknown_candidate", None
    taken = phone_providers(contest, ctx.service.providers_having(Capability.PHONE_PROMPT))
    takes = takes_message(lang, phone_labels(taken, ctx.service.provider_label), contest.country)
    provider = request.provider or ctx.wallets.wallet_of(message.msisdn)
    # Another country's number, a network none of its wallets serves, a wallet it does not take: say what works (a
    # contest that takes no vote now says so first, from the core).
    open_now = contest.voting(datetime.now(UTC)) is VotingState.OPEN
    if open_now and (not of_country(message.msisdn, contest.country) or provider not in taken):
        await reply(ctx, turn, "refused", takes)
        return "refused", None
    order_request = placing.OrderRequest(
        contest_slug=contest.slug, candidate_code=candidate.code, quantity=request.quantity, provider=provider or "",
        channel=CHANNEL, msisdn=message.msisdn, client_key=client_key(message.at_id),
        language=lang.value)  # its receipt follows in the language it was answered in (KURA: Swahili)
    try:
        order = (await ctx.service.place_vote(order_request)).order
    except DomainError as exc:
        log.info("SMS vote refused for %s: %s", message.at_id, exc.code)
        await reply(ctx, turn, "refused", refusal_message(lang, exc.code, texts.name(contest.name),
                                                          contest.voting(datetime.now(UTC)), takes))
        return "refused", None
    shown = texts.prompt(lang, order.amount, order.currency, order.quantity, candidate.code, candidate.name,
                         short_reference(order.id), ctx.service.approval(order.provider),
                         provider_label(order.provider, ctx.service.provider_label(order.provider)))
    await reply(ctx, turn, "prompt", shown, order_id=order.id)
    return "vote", order.id


async def reply(ctx: SmsContext, turn: Turn, kind: str, text: str, *, force: bool = False,
                order_id: uuid.UUID | None = None) -> None:
    """Answer the inbound (once per kind, and per order for a vote's prompt), unless the number opted out."""
    if turn.quiet and not force:
        return
    try:
        await ctx.sender.send(Outgoing(kind, turn.message.msisdn, text, order_id=order_id, inbound_id=turn.message.id),
                              Route(turn.message.short_code, turn.message.link_id))
    except Exception:  # the row says `unsent`; the vote and its prompt go on
        log.warning("SMS reply %s to %s not sent", kind, turn.message.at_id, exc_info=True)
