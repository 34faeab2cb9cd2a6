"""M-Pesa's own settings of a contest: its paybill (Daraja's BusinessShortCode), where voters pay from the M-Pesa
menu with a candidate's code as the account number ("Lipa na M-Pesa: Paybill N, account 07"), and what becomes of a
payment that buys no whole vote: held for a person (the default), or given back by Daraja's reversal.

The admin's form and API post them as `mpesa_paybill` and `mpesa_refund_remainder` (drawn and documented from
`describe`, labelled in M-Pesa's catalog); they are kept in `mpesa_contests`. Two live contests never share a
paybill: the account number names a candidate of one contest only. A closed contest's paybill stays ours for 48 hours
(Daraja's statement reaches that far): a payment made before the close whose word comes after it is still its own,
and its statement is still read."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.channel_queries import contest_ids_live_since, voting_windows
from gateway.core.channel_settings import ContestField, ContestFieldset
from gateway.core.contests.contest_drafts import flag
from gateway.core.entered_text import entered_text
from gateway.core.errors import Conflict, DomainError
from payments.mpesa.models import MpesaContest
from payments.mpesa.texts import CATALOGS

PAYBILL = "mpesa_paybill"
REFUND_REMAINDER = "mpesa_refund_remainder"
SHORTCODE = re.compile(r"^[0-9]{5,7}$")  # Safaricom's business short codes: 5 to 7 digits
Remainder = Literal["hold", "refund"]
# How long a closed contest's paybill is still read and verified: Daraja's Pull Transactions reach (48 hours).
READ_AFTER_CLOSE = timedelta(hours=48)


class PaybillSettings(BaseModel):
    """A contest's paybill (None: no paybill votes) and what becomes of money that buys no whole vote."""

    model_config = ConfigDict(frozen=True)

    paybill: str | None = None
    remainder: Remainder = "hold"

    def fields(self) -> dict[str, Any]:
        return {PAYBILL: self.paybill, REFUND_REMAINDER: self.remainder == "refund"}

    async def save(self, session: AsyncSession, contest_id: int) -> None:
        values = {"paybill": self.paybill, "remainder": self.remainder}
        await session.execute(insert(MpesaContest).values(contest_id=contest_id, **values)
                              .on_conflict_do_update(index_elements=["contest_id"], set_=values))

    async def check_clashes(self, session: AsyncSession, contest_id: int, live_others: Mapping[int, str]) -> None:
        if not (self.paybill and live_others):
            return
        rival = await session.scalar(select(MpesaContest.contest_id).where(
            MpesaContest.contest_id.in_(list(live_others)), MpesaContest.paybill == self.paybill)
            .order_by(MpesaContest.contest_id).limit(1))
        if rival is not None:
            raise Conflict(f"The paybill {self.paybill} takes the votes of the open contest {live_others[rival]}: "
                           "its account numbers would name two contests' candidates.", code="mpesa_paybill_in_use",
                           field=PAYBILL)


class PaybillSettingsKind:
    """M-Pesa's `ChannelContestSettings` (gateway.core.channel_settings), as a provider's."""

    def parse(self, form: Mapping[str, Any]) -> PaybillSettings:
        paybill = entered_text(form.get(PAYBILL), PAYBILL, limit=7, required=False) or None
        if paybill is not None and not SHORTCODE.match(paybill):
            raise DomainError("The M-Pesa paybill is 5 to 7 digits.", code="invalid_field", field=PAYBILL)
        return PaybillSettings(paybill=paybill, remainder="refund" if flag(form, REFUND_REMAINDER) else "hold")

    def demo(self) -> PaybillSettings:
        return PaybillSettings()  # the main demo takes no M-Pesa; the Kenyan one's paybill: assembly.machine.demo

    async def load(self, session: AsyncSession, contest_ids: Sequence[int]) -> dict[int, PaybillSettings]:
        rows = (await session.scalars(select(MpesaContest).where(MpesaContest.contest_id.in_(contest_ids)))).all()
        kept = {row.contest_id: PaybillSettings(paybill=row.paybill, remainder="refund" if row.remainder == "refund"
                                                else "hold") for row in rows}
        return {contest_id: kept.get(contest_id, PaybillSettings()) for contest_id in contest_ids}

    def describe(self, lang: str) -> ContestFieldset:
        return described(lang)


@functools.cache
def described(lang: str) -> ContestFieldset:
    t = CATALOGS.translations(lang)
    return ContestFieldset(legend=t.pgettext("admin", "M-Pesa paybill"), fields=(
        ContestField(PAYBILL, "text", {"type": ["string", "null"], "pattern": SHORTCODE.pattern},
                     t.pgettext("admin", "Paybill number"),
                     t.pgettext("admin", "Voters pay it from the M-Pesa menu with a candidate's code as the account "
                                         "number.")),
        ContestField(REFUND_REMAINDER, "checkbox", {"type": "boolean"},
                     t.pgettext("admin", "Give back by M-Pesa a payment that buys no whole vote"),
                     t.pgettext("admin", "Unticked, it is held for a person. M-Pesa gives a payment back whole, so "
                                         "none of its votes count.")),
    ))


PAYBILL_SETTINGS = PaybillSettingsKind()


@dataclass(frozen=True)
class PaybillContest:
    """A contest paid through a paybill, its window and its rule for money that buys no whole vote."""

    contest_id: int
    remainder: Remainder
    opens_at: datetime
    closes_at: datetime
    closed: bool

    def during(self, at: datetime) -> bool:
        return self.opens_at <= at < self.closes_at


async def paybill_contests(session: AsyncSession, paybill: str, now: datetime | None = None) -> list[PaybillContest]:
    """The contests whose paybill this is, not closed or closed within `READ_AFTER_CLOSE` (one open at a time, as
    `check_clashes` keeps it; a closed one's late words are still its own), the oldest first."""
    since = (now or datetime.now(UTC)) - READ_AFTER_CLOSE
    rows = (await session.execute(
        select(MpesaContest.contest_id, MpesaContest.remainder)
        .where(MpesaContest.paybill == paybill, MpesaContest.contest_id.in_(contest_ids_live_since(since)))
        .order_by(MpesaContest.contest_id))).all()
    windows = await voting_windows(session, [contest_id for contest_id, _ in rows])
    return [PaybillContest(contest_id, "refund" if remainder == "refund" else "hold", window.opens_at,
                           window.closes_at, window.closed)
            for contest_id, remainder in rows if (window := windows.get(contest_id)) is not None]


def contest_for(contests: Sequence[PaybillContest], at: datetime) -> PaybillContest | None:
    """The contest a payment made at `at` is for: one not closed whose window holds it, else any whose window holds
    it (its word late after the close), else the first not closed (held there: not open then), else the newest.
    Pure."""
    for choice in ([c for c in contests if not c.closed and c.during(at)], [c for c in contests if c.during(at)],
                   [c for c in contests if not c.closed], list(reversed(contests))):
        if choice:
            return choice[0]
    return None


async def live_paybills(session: AsyncSession, now: datetime | None = None) -> list[str]:
    """Every paybill of a contest not closed, or closed within `READ_AFTER_CLOSE`: what Daraja must call us about,
    and whose statement we read (a payment made just before the close is found and verified)."""
    since = (now or datetime.now(UTC)) - READ_AFTER_CLOSE
    rows = await session.scalars(select(MpesaContest.paybill).where(
        MpesaContest.paybill.is_not(None), MpesaContest.contest_id.in_(contest_ids_live_since(since))).distinct())
    return sorted(paybill for paybill in rows if paybill)
