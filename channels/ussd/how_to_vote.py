"""How to vote for one candidate over USSD, as a candidate's web page says it (`ChannelParts.how_to_vote`).

Africa's Talking hands the menu whatever the caller dialled after the service code as inputs already typed
(`*384*123*1*07#` arrives as the text "1*07"), and the menu replays every input from its first screen
(channels/ussd/menu.py): 1 is "Vote" on the contest's home screen, then the candidate's code. So a dial with
`*1*<code>` appended lands on the number of votes for that candidate. The code alone appended (`*384*123*07#`)
would answer the home screen with 07, a wrong choice: it is never offered. When other open contests share the
service code, the menu first asks which contest, in an order that changes as contests open and close: the
line then says the steps instead of a dial that could pick another contest."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from channels.ussd.contest_settings import CODES_FIELD
from channels.ussd.dialled import other_open_contests_dialled
from channels.ussd.settings import UssdSettings
from channels.ussd.texts import CATALOGS
from gateway.core.contests.catalog import PublicContest
from gateway.core.providers import Capability, Providers
from gateway.kit.channel_parts import VoteHint

VOTE_CHOICE = "1"  # "Vote" on the contest's home screen (menu.answer_home)


def tel_link(dial: str) -> str:
    """A dial a phone's browser opens in the dialler (`#` must be escaped in a URL)."""
    return "tel:" + quote(dial, safe="*")


def direct_dial(service_code: str, code: str) -> str:
    """`*384*123#` and 07 -> `*384*123*1*07#`."""
    return f"{service_code.removesuffix('#')}*{VOTE_CHOICE}*{code}#"


async def how_to_vote(settings: UssdSettings, session: AsyncSession, contest: PublicContest, code: str,
                      lang: str, providers: Providers) -> VoteHint | None:
    """The dial for this candidate, or the steps when the code is shared; None without a service code (among its
    USSD settings as the vote service found them: `channel_fields`) or a provider USSD can push (one that prompts
    on the phone)."""
    pushed = providers.having(Capability.PHONE_PROMPT)
    codes = contest.channel_fields.get(CODES_FIELD) or ()
    if not codes or not any(p in contest.providers for p in pushed):
        return None
    service_code = codes[0]
    t = CATALOGS.translations(lang)
    if await other_open_contests_dialled(session, service_code, contest.id, datetime.now(UTC)):
        text = t.pgettext("web", "Dial {service_code}, choose {contest}, then 1 (Vote) and {code}")
        return VoteHint("ussd", text.format(service_code=service_code, contest=contest.name, code=code),
                        tel_link(service_code))
    dial = direct_dial(service_code, code)
    return VoteHint("ussd", t.pgettext("web", "Dial {dial}").format(dial=dial), tel_link(dial))
