"""Contests and orders for tests, built through the same code the product uses."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from assembly.channel_list import CONTEST_SETTINGS, RECEIPT_CHANNELS
from gateway.core.contests.contests_admin import settings_of
from gateway.core.fraud.rules import HOLD_SCORE, FraudRules
from gateway.core.market import country_for_currency, market_of
from gateway.core.orders import placing
from gateway.core.results import ledger
from gateway.db.engine import Sessions
from gateway.db.failover import PRIMARY_WAIT_SECONDS
from gateway.db.models import Candidate, CandidateStatus, Contest, ContestStatus, ProviderEvent, Tally, VoteOrder
from gateway.db.seed import ensure_tallies
from tests.channel_names import Channel
from tests.provider_registry import capabilities_of

_slugs = itertools.count(1)
# A contest whose fraud rules are all off: for tests of something else that place many orders from one payer
# or one address (tests of the rules set their own; gateway.core.fraud.rules holds the defaults).
CHANNEL_FIELDS = ("ussd_service_codes", "ussd_no_receipt_sms", "sms_short_code", "sms_keyword", "telegram_mobile_money")
RULES_OFF = {name: 0 for name in FraudRules().stored() if name != HOLD_SCORE.key}  # a rule a test turns on holds
PENDING_TTL = timedelta(minutes=10)
# The tests' results-signing key: base64 of 32 raw bytes, as RESULTS_SIGNING_KEY takes it.
TEST_RESULTS_KEY = "Ks1d0q9Xc3m2VbN8rT4yU7iO6pL5aZ0eW1fG2hJ3kQ4="
# The tests' key sealing admins' TOTP secrets (ADMIN_TOTP_KEYS, a Fernet key), the suite's environment's: every app and
# process a test starts seals and opens with it, as the accounts made in the test process do (tests/admin/accounts.py).
TEST_TOTP_KEY = "ALjPXneEONqHntoiRRuLEwtZgAS4zcN1vGD3zf0FFOo="


async def make_contest(
    sessions: Sessions,
    candidates: int = 5,
    candidate_status: dict[str, CandidateStatus] | None = None,
    **overrides: Any,
) -> Contest:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "slug": f"contest-{next(_slugs)}", "name": "Test Contest", "status": ContestStatus.OPEN,
        "opens_at": now - timedelta(hours=1), "closes_at": now + timedelta(days=1),
        "price_per_vote": 100, "currency": "XAF", "max_votes_per_order": 100,
        "ussd_service_codes": ["*384*999#"], "sms_short_code": "20999", "sms_keyword": "VOTE",
        "providers": ["mtn", "orange", "stripe"],
        "max_orders_per_minute": 0, "max_orders_per_day": 0,  # tests of the limits set their own
    }
    fields.update(overrides)
    # In its currency's country unless told (as the admin's API makes one): a KES contest is Kenyan, its wallets Kenyan.
    fields.setdefault("country", country_for_currency(fields["currency"]))
    fields.setdefault("time_zone", market_of(fields["country"]).time_zone)
    # The channels' own settings of the contest go to their tables, as the admin's form sends them.
    channel_form = {name: fields.pop(name) for name in CHANNEL_FIELDS if name in fields}
    statuses = candidate_status or {}
    async with sessions.begin() as session:
        contest = Contest(**fields)
        session.add(contest)
        await session.flush()
        for channel in CONTEST_SETTINGS:
            await channel.parse(channel_form).save(session, contest.id)
        for index in range(1, candidates + 1):
            code = f"{index:02d}"
            session.add(Candidate(contest_id=contest.id, code=code, name=f"Candidate {code}",
                                  status=statuses.get(code, CandidateStatus.ACTIVE)))
        await session.flush()
        await ensure_tallies(session, contest.id)
    return contest


async def channel_settings(sessions: Sessions, contest_id: int) -> dict[str, Any]:
    """The channels' own settings of a contest, by the admin form's field names."""
    async with sessions() as session:
        return await settings_of(session, CONTEST_SETTINGS, contest_id)


async def place(
    sessions: Sessions, contest: Contest, candidate: str = "01", quantity: int = 1,
    provider: str = "mtn", msisdn: str | None = "+237670000001", primary_wait: float = PRIMARY_WAIT_SECONDS,
    **extra: Any,
) -> VoteOrder:
    channel = extra.pop("channel", Channel.WEB)
    sends_receipt = extra.pop("sends_receipt", channel in RECEIPT_CHANNELS)  # as the VoteService decides it
    request = placing.OrderRequest(contest.slug, candidate, quantity, provider, channel, msisdn=msisdn, **extra)
    return await placing.place_order(sessions, request, capabilities=capabilities_of(provider), pending_ttl=PENDING_TTL,
                                     sends_receipt=sends_receipt, primary_wait=primary_wait)


async def tallies(sessions: Sessions, contest_id: int) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(Candidate.code, Tally.votes).join(Tally, Tally.candidate_id == Candidate.id)
            .where(Candidate.contest_id == contest_id)
        )
        return {code: votes for code, votes in rows}


async def paid_quantities(sessions: Sessions, contest_id: int) -> dict[str, int]:
    """What the tallies must equal: the sum of quantities of paid orders per candidate."""
    async with sessions() as session:
        rows = await session.execute(
            select(Candidate.code, func.coalesce(func.sum(VoteOrder.quantity), 0))
            .select_from(Candidate)
            .outerjoin(VoteOrder, (VoteOrder.candidate_id == Candidate.id) & (VoteOrder.status == "paid"))
            .where(Candidate.contest_id == contest_id)
            .group_by(Candidate.code)
        )
        return {code: int(total) for code, total in rows}


async def assert_tally_invariant(sessions: Sessions, contest_id: int) -> None:
    """Tally = paid quantities per candidate, and the vote ledger's chain is whole and counts the same."""
    assert await tallies(sessions, contest_id) == await paid_quantities(sessions, contest_id)
    report = await ledger.verify(sessions, contest_id)
    assert report.clean, report


async def event_log(sessions: Sessions) -> Counter[tuple[str, str | None]]:
    """The provider events kept, as (kind, outcome) -> how many."""
    async with sessions() as session:
        rows = await session.execute(select(ProviderEvent.kind, ProviderEvent.outcome))
        return Counter((kind, outcome) for kind, outcome in rows)


async def assert_fault_end(sessions: Sessions, contest_id: int,
                           events: Mapping[tuple[str, str | None], int]) -> None:
    """How every fault test ends: the tally invariant holds, and the provider-events log holds
    exactly the callbacks that came in, each with what it led to."""
    await assert_tally_invariant(sessions, contest_id)
    assert await event_log(sessions) == Counter(events)


async def count_orders(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(VoteOrder)) or 0)
