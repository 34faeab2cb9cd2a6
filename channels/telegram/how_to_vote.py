"""How to vote for one candidate on Telegram, as a candidate's web page says it (`ChannelParts.how_to_vote`): a
link that opens the bot on this candidate (a deep link, `t.me/<bot>?start=v<contest id>_<code>`, which /start
reads: handlers.start) to choose the number of votes."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from channels.telegram.settings import TelegramSettings
from channels.telegram.texts import CATALOGS
from gateway.core.contests.catalog import PublicContest
from gateway.core.providers import Providers
from gateway.kit.channel_parts import VoteHint

# What /start's deep link carries: Telegram allows [A-Za-z0-9_-], at most 64 characters.
START_PAYLOAD = re.compile(r"^v([0-9]{1,12})_([0-9]{1,8})$")
USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


def start_payload(contest_id: int, code: str) -> str:
    return f"v{contest_id}_{code}"


def read_start_payload(payload: str | None) -> tuple[int, str] | None:
    """(contest id, candidate code) from /start's argument, else None (a plain /start)."""
    found = START_PAYLOAD.match((payload or "").strip())
    return (int(found.group(1)), found.group(2)) if found else None


async def how_to_vote(settings: TelegramSettings, session: AsyncSession, contest: PublicContest, code: str,
                      lang: str, providers: Providers) -> VoteHint | None:
    """None without the bot's username, or for a contest the bot does not offer (it sells votes in Stars)."""
    username = (settings.telegram_bot_username or "").removeprefix("@")
    if not USERNAME.match(username) or not contest.stars_per_vote:
        return None
    text = CATALOGS.translations(lang).pgettext("web", "On Telegram: open @{bot} and vote")
    return VoteHint("telegram", text.format(bot=username),
                    f"https://t.me/{username}?start={start_payload(contest.id, code)}")
