"""How to vote for one candidate from the M-Pesa menu, as the candidate's page, its share card and the broadcast
overlay say it (`ProviderParts.how_to_vote`): "Lipa na M-Pesa: Paybill 174379, account 07", the words Kenyan TV
votes are run with; the candidate's code is the account number (`payments.mpesa.c2b_routes`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.contests.catalog import PublicContest
from gateway.core.providers import Providers
from gateway.kit.channel_parts import VoteHint
from payments.mpesa.paybills import PAYBILL
from payments.mpesa.request_cap import NAME
from payments.mpesa.settings import MpesaSettings
from payments.mpesa.texts import CATALOGS


async def how_to_vote(settings: MpesaSettings, session: AsyncSession, contest: PublicContest, code: str, lang: str,
                      providers: Providers) -> VoteHint | None:
    """From the contest's paybill as the vote service found it (`channel_fields`); None without one, or when the
    contest does not take M-Pesa."""
    paybill = contest.channel_fields.get(PAYBILL)
    if not paybill or NAME not in contest.providers:
        return None
    text = CATALOGS.translations(lang).pgettext("web", "Lipa na M-Pesa: Paybill {paybill}, account {code}")
    line = text.format(paybill=paybill, code=code)
    return VoteHint(NAME, line, None, line)
