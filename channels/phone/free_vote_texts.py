"""What a phone channel says about a free vote (gateway.core.orders.free_votes): USSD's menu line and last screen, SMS's
replies. GSM-7, in the `phone` domain as every vote message (channels.phone.texts)."""

from __future__ import annotations

from channels.phone.gsm7 import clip, texted
from channels.phone.texts import CATALOGS, CONTEST_WIDTH, refusal_message
from gateway.core.contests.rules import VotingState
from gateway.core.texts import Lang

NAME_WIDTH = 20  # a candidate's name in a message, at most


def free_vote_option(lang: Lang) -> str:
    """The USSD home menu's line for the free vote (its choice is 5, after the four the menu always has)."""
    t = CATALOGS.translations(lang)
    # Limit: 20 (a line of the USSD home menu)
    return texted(t.pgettext("phone", "5 Free vote"))


def free_vote_taken(lang: Lang, code: str, name: str, left: int, per_round: bool) -> str:
    """A free vote is counted: for whom, and how many the number has left (today or this round)."""
    t = CATALOGS.translations(lang)
    if per_round:
        # Limit: 150 (USSD's last screen, an SMS reply)
        template = t.npgettext("phone", "Thank you! Your free vote for {code} {name} is counted. {left} free vote "
                                        "left this round.",
                               "Thank you! Your free vote for {code} {name} is counted. {left} free votes left this "
                               "round.", left)
    else:
        # Limit: 150 (USSD's last screen, an SMS reply)
        template = t.npgettext("phone", "Thank you! Your free vote for {code} {name} is counted. {left} free vote "
                                        "left today.",
                               "Thank you! Your free vote for {code} {name} is counted. {left} free votes left today.",
                               left)
    return texted(template.format(code=code, name=clip(name, NAME_WIDTH), left=left))


def free_vote_refused(lang: Lang, code: str, contest_name: str, per_round: bool,
                      voting: VotingState = VotingState.CLOSED) -> str:
    """Why a free vote was not taken, by the core's code: its own (used, none given) or a vote's (blocked, closed…)."""
    t = CATALOGS.translations(lang)
    if code == "free_vote_used":
        if per_round:
            # Limit: 150 (USSD's last screen, an SMS reply)
            return texted(t.pgettext("phone", "This number has taken its free votes for this round. You can still "
                                              "vote by mobile money."))
        # Limit: 150 (USSD's last screen, an SMS reply)
        return texted(t.pgettext("phone", "This number has taken its free votes for today. Come back tomorrow, or "
                                          "vote by mobile money."))
    if code == "no_free_votes":
        # Limit: 150 (USSD's last screen, an SMS reply)
        return texted(t.pgettext("phone", "{contest} gives no free vote now.").format(
            contest=clip(contest_name, CONTEST_WIDTH)))
    return refusal_message(lang, code, contest_name, voting)
