"""USSD's own settings of a contest: the service codes that dial it (the operator's, *384*123#), and whether a
USSD vote is followed by an SMS once its order is decided (its receipt, or why the payment failed).

The admin's form and API post them as `ussd_service_codes` (the form's text comma-separated, the API's an array)
and `ussd_no_receipt_sms` (drawn and documented from `describe`, labelled in this channel's catalog); they are kept
in `ussd_contests`. Two live contests never share a service code: a voter dialling it would not know which of them
they reach. The SMS is said as a switch *off* because a form's checkbox left unticked is not posted at all: a
switch on by default could never be turned off from the form.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from channels.ussd.models import UssdContest
from channels.ussd.texts import CATALOGS
from gateway.core.channel_settings import ContestField, ContestFieldset
from gateway.core.contests.contest_drafts import flag, listed
from gateway.core.errors import Conflict, DomainError
from gateway.db.driver_statements import DriverStatement
from gateway.db.engine import Sessions, autocommit_connection

FIELD = "ussd_no_receipt_sms"
CODES_FIELD = "ussd_service_codes"
SERVICE_CODE = re.compile(r"^\*[0-9]{1,6}(?:\*[0-9]{1,6}){0,4}#$")
# The codes in the admin API's body: an array there, where the form's text puts them between commas.
CODES_SCHEMA = {"type": "array", "items": {"type": "string"},
                "description": "the operator's codes that dial the contest (*384*123#); two live contests never "
                               "share one"}
DEMO_SERVICE_CODE = "*384*123#"  # the demo contest's (Cameroon's operators' *384*…#; `gateway ussd` dials it)


class UssdContestSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    service_codes: tuple[str, ...] = ()
    no_receipt_sms: bool = False

    def fields(self) -> dict[str, Any]:
        return {CODES_FIELD: list(self.service_codes), FIELD: self.no_receipt_sms}

    async def save(self, session: AsyncSession, contest_id: int) -> None:
        values = {"service_codes": list(self.service_codes), "no_receipt_sms": self.no_receipt_sms}
        await session.execute(insert(UssdContest).values(contest_id=contest_id, **values)
                              .on_conflict_do_update(index_elements=["contest_id"], set_=values))

    async def check_clashes(self, session: AsyncSession, contest_id: int, live_others: Mapping[int, str]) -> None:
        if not (self.service_codes and live_others):
            return
        rival = await session.scalar(
            select(UssdContest.contest_id)
            .where(UssdContest.contest_id.in_(list(live_others)),
                   UssdContest.service_codes.overlap(list(self.service_codes)))
            .order_by(UssdContest.contest_id).limit(1))
        if rival is not None:
            raise Conflict(f"A USSD code of this contest is used by the open contest {live_others[rival]}.",
                           code="ussd_code_in_use", field=CODES_FIELD)


class UssdContestSettingsKind:
    """USSD's `ChannelContestSettings` (gateway.core.channel_settings)."""

    def parse(self, form: Mapping[str, Any]) -> UssdContestSettings:
        codes = tuple(dict.fromkeys(listed(form, CODES_FIELD)))
        if any(not SERVICE_CODE.match(code) for code in codes):
            raise DomainError("USSD service codes look like *384*123#.", code="invalid_field", field=CODES_FIELD)
        return UssdContestSettings(service_codes=codes, no_receipt_sms=flag(form, FIELD))

    def demo(self) -> UssdContestSettings:
        return UssdContestSettings(service_codes=(DEMO_SERVICE_CODE,))

    async def load(self, session: AsyncSession, contest_ids: Sequence[int]) -> dict[int, UssdContestSettings]:
        rows = (await session.scalars(select(UssdContest).where(UssdContest.contest_id.in_(contest_ids)))).all()
        kept = {row.contest_id: UssdContestSettings(service_codes=tuple(row.service_codes),
                                                    no_receipt_sms=row.no_receipt_sms) for row in rows}
        return {contest_id: kept.get(contest_id, UssdContestSettings()) for contest_id in contest_ids}

    def describe(self, lang: str) -> ContestFieldset:
        return described(lang)


@functools.cache
def described(lang: str) -> ContestFieldset:
    """The admin's form field, in the "admin" context: an organiser's screen, not a phone's."""
    t = CATALOGS.translations(lang)
    return ContestFieldset(legend=t.pgettext("admin", "USSD"), fields=(
        ContestField(CODES_FIELD, "list", CODES_SCHEMA,
                     t.pgettext("admin", "USSD service codes (comma-separated, e.g. *384*123#)"),
                     refusal=t.pgettext("admin", "USSD service codes look like *384*123#.")),
        ContestField(FIELD, "checkbox", {"type": "boolean"},
                     t.pgettext("admin", "No SMS after a USSD vote (its receipt, or why the payment failed)")),))


USSD_CONTEST_SETTINGS = UssdContestSettingsKind()


# Read before every USSD receipt: run by the driver, as the phone channels' other hot statements.
RECEIPT_SMS_OFF = DriverStatement(select(UssdContest.no_receipt_sms)
                                  .where(UssdContest.contest_id == bindparam("contest_id")), ("contest_id",))


async def receipt_sms_wanted(sessions: Sessions, contest_id: int) -> bool:
    """Whether the contest's USSD voters get the SMS that confirms a decided order (on unless turned off)."""
    async with autocommit_connection(sessions) as connection:  # one read: no BEGIN and ROLLBACK around it
        row = await RECEIPT_SMS_OFF.fetchrow(connection, {"contest_id": contest_id})
    return row is None or not row["no_receipt_sms"]
