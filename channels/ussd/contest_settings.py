"""USSD's own settings of a contest: whether a USSD vote is followed by an SMS once its order is decided (its
receipt, or why the payment failed). On unless the organiser turns it off.

The admin's form and API post it as `ussd_no_receipt_sms` (drawn and documented from `describe`, labelled in this
channel's catalog); it is kept in `ussd_contests`. It is said as a switch *off* because a form's checkbox left
unticked is not posted at all: a switch on by default could never be turned off from the form.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from channels.ussd.models import UssdContest
from channels.ussd.texts import CATALOGS
from gateway.core.channel_settings import ContestField, ContestFieldset
from gateway.core.contests.contest_drafts import flag
from gateway.db.engine import Sessions

FIELD = "ussd_no_receipt_sms"


class UssdContestSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    no_receipt_sms: bool = False

    def fields(self) -> dict[str, Any]:
        return {FIELD: self.no_receipt_sms}

    async def save(self, session: AsyncSession, contest_id: int) -> None:
        await session.execute(insert(UssdContest).values(contest_id=contest_id, no_receipt_sms=self.no_receipt_sms)
                              .on_conflict_do_update(index_elements=["contest_id"],
                                                     set_={"no_receipt_sms": self.no_receipt_sms}))

    async def check_clashes(self, session: AsyncSession, contest_id: int, live_others: Mapping[int, str]) -> None:
        return None  # a contest's own choice: no other contest's clashes with it


class UssdContestSettingsKind:
    """USSD's `ChannelContestSettings` (gateway.core.channel_settings)."""

    def parse(self, form: Mapping[str, Any]) -> UssdContestSettings:
        return UssdContestSettings(no_receipt_sms=flag(form, FIELD))

    def demo(self) -> UssdContestSettings:
        return UssdContestSettings()

    async def load(self, session: AsyncSession, contest_ids: Sequence[int]) -> dict[int, UssdContestSettings]:
        rows = (await session.execute(select(UssdContest.contest_id, UssdContest.no_receipt_sms)
                                      .where(UssdContest.contest_id.in_(contest_ids)))).all()
        kept = dict(rows)
        return {contest_id: UssdContestSettings(no_receipt_sms=bool(kept.get(contest_id, False)))
                for contest_id in contest_ids}

    def describe(self, lang: str) -> ContestFieldset:
        return described(lang)


@functools.cache
def described(lang: str) -> ContestFieldset:
    """The admin's form field, in the "admin" context: an organiser's screen, not a phone's."""
    t = CATALOGS.translations(lang)
    return ContestFieldset(legend=t.pgettext("admin", "USSD"), fields=(
        ContestField(FIELD, "checkbox", {"type": "boolean"},
                     t.pgettext("admin", "No SMS after a USSD vote (its receipt, or why the payment failed)")),))


USSD_CONTEST_SETTINGS = UssdContestSettingsKind()


async def receipt_sms_wanted(sessions: Sessions, contest_id: int) -> bool:
    """Whether the contest's USSD voters get the SMS that confirms a decided order (on unless turned off)."""
    async with sessions() as session:
        off = await session.scalar(select(UssdContest.no_receipt_sms).where(UssdContest.contest_id == contest_id))
    return not off
