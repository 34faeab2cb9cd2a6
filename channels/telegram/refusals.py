"""Why the bot did not take a vote, in the voter's language: the core's refusals by their stable code in the phone
channels' words (never the core's English message), and what a contest takes (its wallets, its country's numbers) to
a number that cannot pay it, as SMS and USSD say it (channels.phone.contest_takes)."""

from __future__ import annotations

from datetime import UTC, datetime

from channels.phone.contest_takes import phone_labels, phone_providers, takes_message
from channels.phone.texts import refusal_message
from channels.telegram.texts import Texts
from gateway.core.contests.catalog import PublicContest
from gateway.core.errors import DomainError
from gateway.core.providers import Capability
from gateway.core.service import VoteService
from gateway.core.texts import Lang


def language(t: Texts) -> Lang:
    return Lang.parse(t.lang) or Lang.FR


def takes_text(t: Texts, contest: PublicContest, service: VoteService) -> str:
    """`This contest is paid by MTN MoMo or Orange Money, numbers +237.`"""
    taken = phone_providers(contest, service.providers_having(Capability.PHONE_PROMPT))
    return takes_message(language(t), phone_labels(taken, service.provider_label), contest.country)


def refusal_text(t: Texts, refused: DomainError, contest: PublicContest | None, service: VoteService) -> str:
    """A vote the core refused, whole sentences in the voter's language."""
    lang = language(t)
    if contest is None:
        return refusal_message(lang, refused.code, "")
    return refusal_message(lang, refused.code, contest.name, contest.voting(datetime.now(UTC)),
                           takes_text(t, contest, service))
