"""Free votes over USSD: the session's MSISDN is the proof of the number (Africa's Talking has it from the operator),
so a caller whose number has a free vote left sees "5 Free vote" on the contest's home menu, picks a candidate, and
the vote is taken at once (gateway.core.orders.free_votes): no provider, no prompt, no order."""

from __future__ import annotations

import logging
from dataclasses import replace

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from channels.phone.free_vote_texts import free_vote_refused, free_vote_taken
from channels.phone.gsm7 import transliterate
from channels.ussd.menu import MenuContext
from channels.ussd.screens import Reply, TakeFreeVote, end
from gateway.core.errors import DomainError
from gateway.core.orders import free_votes
from gateway.kit.keys import SESSIONS

log = logging.getLogger(__name__)
CHANNEL = "ussd"


async def with_free_left(app: web.Application, ctx: MenuContext, msisdn: str) -> MenuContext:
    """The menu's contests with the caller's free votes left in each (the home menu offers them). Every hop asks
    (the caller may have taken one elsewhere meanwhile), unless none of the contests gives free votes: then the
    database is not asked at all, which on a show's USSD traffic was a query on every hop of every session."""
    giving = [contest.id for contest in ctx.contests if contest.may_give_free_votes]
    if not giving:
        return ctx
    try:
        left = await free_votes.free_left_by_contest(app[SESSIONS], giving, msisdn)
    except (SQLAlchemyError, OSError):  # the menu answers from the cached contests meanwhile, without free votes
        log.warning("USSD free votes unread; the menu offers none for now", exc_info=True)
        return ctx
    return replace(ctx, free_left=tuple((contest_id, n) for contest_id, n in left.items() if n > 0))


async def take(app: web.Application, session_id: str, msisdn: str, ctx: MenuContext, reply: Reply,
               action: TakeFreeVote) -> Reply:
    """Take the free vote the caller chose; the last screen says it counted, or why not."""
    contest = next((c for c in ctx.contests if c.slug == action.contest_slug), None)
    name = contest.name if contest else ""
    try:
        taken = await free_votes.take_free_vote(
            app[SESSIONS], free_votes.FreeVoteRequest(action.contest_slug, action.candidate, msisdn, CHANNEL))
    except DomainError as exc:
        log.info("USSD free vote refused for session %s: %s", session_id, exc.code)
        per_round = isinstance(exc, free_votes.FreeVoteUsed) and exc.per is free_votes.FreePer.ROUND
        voting = contest.availability if contest else free_votes.VotingState.CLOSED
        return end(free_vote_refused(reply.language, exc.code, name, per_round, voting), reply.language)
    return end(free_vote_taken(reply.language, taken.candidate_code, transliterate(taken.candidate_name),
                               taken.left, taken.per is free_votes.FreePer.ROUND), reply.language)
