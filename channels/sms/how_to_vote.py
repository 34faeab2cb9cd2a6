"""How to vote for one candidate by SMS, as a candidate's web page says it (`ChannelParts.how_to_vote`): the
contest's keyword, the candidate's code, to the short code (`VOTE 07`, the parser's plainest form; one vote, the
reply says how to buy more: `VOTE 07 5`)."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from channels.sms.settings import SmsSettings
from channels.sms.texts import CATALOGS
from gateway.core.contests.catalog import PublicContest
from gateway.core.providers import Capability, Providers
from gateway.kit.channel_parts import VoteHint


def message_for(keyword: str, code: str) -> str:
    return f"{keyword} {code}"


async def how_to_vote(settings: SmsSettings, session: AsyncSession, contest: PublicContest, code: str,
                      lang: str, providers: Providers) -> VoteHint | None:
    """From the contest's SMS settings as the vote service found them (`channel_fields`); None without a short
    code and keyword, or without mobile money (an SMS vote is paid by a prompt on the phone)."""
    short_code, keyword = contest.channel_fields.get("sms_short_code"), contest.channel_fields.get("sms_keyword")
    if not (short_code and keyword) or not set(providers.having(Capability.PHONE_PROMPT)) & set(contest.providers):
        return None
    message = message_for(keyword, code)
    text = CATALOGS.translations(lang).pgettext("web", "Text {message} to {short_code}")
    return VoteHint("sms", text.format(message=message, short_code=short_code),
                    f"sms:{short_code}?body={quote(message)}")
