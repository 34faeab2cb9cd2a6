"""What a candidate is texted: the one-time code proving their number, and the organiser's decision on their
entry. Short and GSM-7 (no curly quotes), as every text message of the service."""

from __future__ import annotations

from gateway.core.texts import CORE


def code_text(lang: str, code: str, contest_name: str) -> str:
    t = CORE.translations(lang)
    return t.gettext("{code} is your code to enter {contest}. It expires in 10 minutes.").format(
        code=code, contest=contest_name)


def approved_text(lang: str, contest_name: str, code: str, link: str, *, live: bool = True) -> str:
    """`live`: the candidate's page is public now; a draft contest's is not yet, so the text says when it will be
    rather than send the candidate and their fans to a page that is not there."""
    t = CORE.translations(lang)
    if not live:
        return t.gettext("Your entry to {contest} is approved: you are candidate {code}. Your page opens with the "
                         "contest: {link}").format(contest=contest_name, code=code, link=link)
    return t.gettext("Your entry to {contest} is approved: you are candidate {code}. Share your page: {link}").format(
        contest=contest_name, code=code, link=link)


def rejected_text(lang: str, contest_name: str, reason: str) -> str:
    t = CORE.translations(lang)
    return t.gettext("Your entry to {contest} was not accepted: {reason}").format(contest=contest_name, reason=reason)
