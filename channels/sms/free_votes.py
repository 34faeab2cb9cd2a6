"""Free votes by SMS: `FREE 07` (or `GRATUIT 07`, `BURE 07`; with the contest's keyword where a short code serves
several: `FREE STAR 07`). The proof of the number is the sender's number, which the operator gives Africa's Talking
with the message (as a paid vote's payer number is): whoever texts takes the free vote of the number texting, never
another's. The vote is taken at once (gateway.core.orders.free_votes): no order, no prompt, no provider."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from channels.phone.free_vote_texts import free_vote_refused, free_vote_taken
from channels.phone.gsm7 import transliterate
from channels.sms.parser import normalise
from gateway.core.contests.catalog import PublicContest
from gateway.core.errors import DomainError
from gateway.core.orders import free_votes
from gateway.core.texts import Lang
from gateway.db.engine import Sessions

log = logging.getLogger(__name__)
CHANNEL = "sms"
FREE_WORDS = frozenset({"FREE", "GRATUIT", "GRATUITE", "BURE"})
MAX_DIGITS = 6


@dataclass(frozen=True)
class FreeAsked:
    candidate: str  # digits as sent ("7" or "07")
    keyword: str | None  # the contest's keyword, where the message named one


def parse_free(text: str, keywords: Collection[str]) -> FreeAsked | None:
    """A free vote asked for, or None (the message is read as any other): the free word, an optional contest keyword
    (`keywords`: the short code's, upper case, spaces removed), the candidate's digits."""
    words = normalise(text).split()
    if len(words) < 2 or words[0] not in FREE_WORDS:
        return None
    keyword = words[1] if len(words) == 3 and words[1] in keywords else None
    code = words[-1]
    if len(words) > (3 if keyword else 2) or not code.isdigit() or len(code) > MAX_DIGITS:
        return None
    return FreeAsked(code, keyword)


def candidate_code(contest: PublicContest, typed: str) -> str:
    """`7` is `07`: people drop leading zeros (a code nobody has is refused by the core)."""
    return next((c.code for c in contest.candidates if c.code == typed), None) or next(
        (c.code for c in contest.candidates if c.code.isdigit() and int(c.code) == int(typed)), typed)


async def take(sessions: Sessions, contest: PublicContest, asked: FreeAsked, msisdn: str,
               lang: Lang) -> tuple[str, str]:
    """Take the free vote for the sender's number: the outcome kept on the inbound row and the reply."""
    try:
        taken = await free_votes.take_free_vote(sessions, free_votes.FreeVoteRequest(
            contest.slug, candidate_code(contest, asked.candidate), msisdn, CHANNEL))
    except DomainError as exc:
        log.info("SMS free vote refused for %s: %s", msisdn, exc.code)
        per_round = isinstance(exc, free_votes.FreeVoteUsed) and exc.per is free_votes.FreePer.ROUND
        voting = contest.voting(datetime.now(UTC))
        return "free_refused", free_vote_refused(lang, exc.code, transliterate(contest.name), per_round, voting)
    return "free_vote", free_vote_taken(lang, taken.candidate_code, transliterate(taken.candidate_name), taken.left,
                                        taken.per is free_votes.FreePer.ROUND)
