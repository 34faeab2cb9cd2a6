"""SMS's own settings of a contest: the short code voters text and the keyword that starts their message.

The admin's form and API post them as `sms_short_code` and `sms_keyword` (drawn and documented from
`describe`, labelled in this channel's catalog); they are kept in `sms_contests`.
Two live contests may share a short code, never a keyword, nor two keywords one text could mean both of.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from channels.sms.models import SmsContest
from channels.sms.texts import CATALOGS
from gateway.core.channel_settings import ContestField, ContestFieldset
from gateway.core.entered_text import entered_text
from gateway.core.errors import Conflict, DomainError

SHORT_CODE = re.compile(r"^[0-9]{3,16}$")
KEYWORD = re.compile(r"^[A-Z][A-Z0-9]{0,31}$")  # a letter first: a text starting with digits names a candidate
DEMO_SHORT_CODE, DEMO_KEYWORD = "20123", "VOTE"  # the demo contest's (`gateway sms` texts 20123 by default)


def keywords_collide(first: str, second: str) -> bool:
    """Whether one keyword is the other plus digits, a letter, or a letter and digits (STAR beside STAR5,
    STARS or STARS5): on one short code, `STAR57` would then be a vote for 57 under the one and for 7 under
    the other, as voters glue the code on (`VOTE07`) and the SMS parser takes a verb's ending too (`VOTES 07`,
    `VOTER07`). Any one letter counts, not only the endings the parser knows today: refusing a rare pair such
    as STAR and STARK costs an organiser a rename, a misread vote costs a voter their money's worth."""
    shorter, longer = sorted((first, second), key=len)
    rest = longer.removeprefix(shorter)
    return bool(rest) and rest != longer and re.fullmatch(r"[A-Z]?[0-9]*", rest) is not None


class SmsContestSettings(BaseModel):
    """A contest's short code and keyword, checked (None: not set; SMS votes need both)."""

    model_config = ConfigDict(frozen=True)

    short_code: str | None = None
    keyword: str | None = None

    def fields(self) -> dict[str, Any]:
        return {"sms_short_code": self.short_code, "sms_keyword": self.keyword}

    async def save(self, session: AsyncSession, contest_id: int) -> None:
        values = {"short_code": self.short_code, "keyword": self.keyword}
        await session.execute(insert(SmsContest).values(contest_id=contest_id, **values)
                              .on_conflict_do_update(index_elements=["contest_id"], set_=values))

    async def check_clashes(self, session: AsyncSession, contest_id: int, live_others: Mapping[int, str]) -> None:
        if not (self.short_code and self.keyword and live_others):
            return
        rivals = (await session.execute(
            select(SmsContest.contest_id, SmsContest.keyword)
            .where(SmsContest.contest_id.in_(list(live_others)), SmsContest.short_code == self.short_code)
            .order_by(SmsContest.contest_id))).all()
        for rival, keyword in rivals:
            slug = live_others[rival]
            if keyword == self.keyword:
                raise Conflict(f"The SMS short code and keyword are used by the open contest {slug}.",
                               code="sms_keyword_in_use", field="sms_keyword")
            if keyword and keywords_collide(keyword, self.keyword):
                raise Conflict(f"The SMS keyword {self.keyword} is the open contest {slug}'s keyword "
                               f"{keyword} with digits added: a vote glued to its candidate's code would read "
                               "as both.", code="sms_keyword_ambiguous", field="sms_keyword")


class SmsContestSettingsKind:
    """SMS's `ChannelContestSettings` (gateway.core.channel_settings)."""

    def parse(self, form: Mapping[str, Any]) -> SmsContestSettings:
        short_code = entered_text(form.get("sms_short_code"), "sms_short_code", limit=16, required=False) or None
        keyword = (entered_text(form.get("sms_keyword"), "sms_keyword", limit=32, required=False)
                   or "").upper() or None
        if short_code is not None and not SHORT_CODE.match(short_code):
            raise DomainError("The SMS short code is digits.", code="invalid_field", field="sms_short_code")
        if keyword is not None and not KEYWORD.match(keyword):
            raise DomainError("The SMS keyword is letters and digits, starting with a letter.", code="invalid_field",
                              field="sms_keyword")
        return SmsContestSettings(short_code=short_code, keyword=keyword)

    def demo(self) -> SmsContestSettings:
        return SmsContestSettings(short_code=DEMO_SHORT_CODE, keyword=DEMO_KEYWORD)

    async def load(self, session: AsyncSession, contest_ids: Sequence[int]) -> dict[int, SmsContestSettings]:
        rows = (await session.scalars(select(SmsContest).where(SmsContest.contest_id.in_(contest_ids)))).all()
        kept = {row.contest_id: SmsContestSettings(short_code=row.short_code, keyword=row.keyword) for row in rows}
        return {contest_id: kept.get(contest_id, SmsContestSettings()) for contest_id in contest_ids}

    def describe(self, lang: str) -> ContestFieldset:
        return described(lang)


@functools.cache
def described(lang: str) -> ContestFieldset:
    """The admin's form fields, in the "admin" context: an organiser's screen, not a phone's (no GSM-7 limit)."""
    t = CATALOGS.translations(lang)
    nullable_text = {"type": ["string", "null"]}
    return ContestFieldset(legend=t.pgettext("admin", "SMS"), fields=(
        ContestField("sms_short_code", "text", nullable_text, t.pgettext("admin", "SMS short code")),
        ContestField("sms_keyword", "text", nullable_text, t.pgettext("admin", "SMS keyword"))))


SMS_CONTEST_SETTINGS = SmsContestSettingsKind()
