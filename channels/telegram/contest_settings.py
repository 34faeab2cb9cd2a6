"""Telegram's own settings of a contest: whether the bot offers mobile money beside Stars.

The admin's form and API post it as `telegram_mobile_money` (drawn and documented from `describe`, labelled
in this channel's catalog); it is kept in `telegram_contests`. The price in Stars is the Stars provider's
(`contests.stars_per_vote`), not the bot's.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from channels.telegram.models import TelegramContest
from channels.telegram.texts import CATALOGS
from gateway.core.channel_settings import ContestField, ContestFieldset
from gateway.core.contests.contest_drafts import flag

CHANNEL = "telegram"  # an order's channel (its ChannelParts' name)
FIELD = "telegram_mobile_money"


class TelegramContestSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    mobile_money: bool = False

    def fields(self) -> dict[str, Any]:
        return {FIELD: self.mobile_money}

    async def save(self, session: AsyncSession, contest_id: int) -> None:
        await session.execute(insert(TelegramContest).values(contest_id=contest_id, mobile_money=self.mobile_money)
                              .on_conflict_do_update(index_elements=["contest_id"],
                                                     set_={"mobile_money": self.mobile_money}))

    async def check_clashes(self, session: AsyncSession, contest_id: int, live_others: Mapping[int, str]) -> None:
        return None  # one bot serves every contest: nothing of it is a contest's own


class TelegramContestSettingsKind:
    """Telegram's `ChannelContestSettings` (gateway.core.channel_settings)."""

    def parse(self, form: Mapping[str, Any]) -> TelegramContestSettings:
        return TelegramContestSettings(mobile_money=flag(form, FIELD))

    def demo(self) -> TelegramContestSettings:
        return TelegramContestSettings()

    async def load(self, session: AsyncSession, contest_ids: Sequence[int]) -> dict[int, TelegramContestSettings]:
        rows = (await session.execute(select(TelegramContest.contest_id, TelegramContest.mobile_money)
                                      .where(TelegramContest.contest_id.in_(contest_ids)))).all()
        kept = dict(rows)
        return {contest_id: TelegramContestSettings(mobile_money=bool(kept.get(contest_id, False)))
                for contest_id in contest_ids}

    def describe(self, lang: str) -> ContestFieldset:
        return described(lang)


@functools.cache
def described(lang: str) -> ContestFieldset:
    """The admin's form field, in the "admin" context: an organiser's screen, not the bot's."""
    t = CATALOGS.translations(lang)
    return ContestFieldset(legend=t.pgettext("admin", "Telegram"), fields=(
        ContestField(FIELD, "checkbox", {"type": "boolean"}, t.pgettext("admin", "The bot offers mobile money too")),))


TELEGRAM_CONTEST_SETTINGS = TelegramContestSettingsKind()


def offers_mobile_money_setting(contest_fields: Mapping[str, Any]) -> bool:
    """The organiser's switch, from a contest's channel fields as the vote service hands them over."""
    return bool(contest_fields.get(FIELD, False))
