"""The demo contests that `gateway seed --demo` (and `gateway run`) create once: the main one (XAF), and a Kenyan
one (KES) paid by M-Pesa's prompt."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.engine import Sessions
from gateway.db.models import Candidate, Contest, ContestStatus, EntryCall, ProviderFeeBand, ProviderFeeRate, Tally

DEMO_SLUG = "demo"
DEMO_CANDIDATES = (
    ("01", "Amina Bello"),
    ("02", "Brice Nkoulou"),
    ("03", "Chantal Mbarga"),
    ("04", "Didier Essomba"),
    ("05", "Esther Fotso"),
    ("06", "Fabrice Tchana"),
    ("07", "Grace Ndongo"),
    ("08", "Herve Kamga"),
)

DEMO_STARS_PER_VOTE = 10  # the demo's price of a vote in Stars
KENYA_DEMO_SLUG = "demo-kenya"
KENYA_DEMO_CANDIDATES = (("01", "Achieng Otieno"), ("02", "Baraka Mwangi"), ("03", "Chebet Kiprono"),
                         ("04", "Daudi Kamau"))


# M-Pesa's fee on a payment into a paybill, by band (up to KES x: the business pays y), in cents: an EXAMPLE for the
# demo, which the owner must check against their own contract. The figures are the 2024 totals of Safaricom's
# paybill tariff as third-party pages print them (money.ke, tuko.co.ke: the whole charge, which the business bears
# under the "Customer Bouquet" tariff, where the voter pays nothing on top of the vote); Safaricom's own tariff page
# was not read, and a paybill on the "Mgao" or "Business Bouquet" tariff pays less or nothing.
KENYA_DEMO_MPESA_BANDS = ((10_000, 0), (50_000, 500), (100_000, 1_000), (150_000, 1_500), (250_000, 2_000),
                          (350_000, 2_500), (500_000, 3_400), (750_000, 4_200), (1_000_000, 4_800),
                          (1_500_000, 5_700), (2_000_000, 6_200), (2_500_000, 6_700), (3_000_000, 7_200),
                          (3_500_000, 8_300), (4_000_000, 9_900), (4_500_000, 10_300), (5_000_000, 10_800),
                          (25_000_000, 10_800))
SEEDED_BY = "seed: an example, check it against your contract"

# What a channel keeps of a new demo contest (its settings' `save`, gateway.core.channel_settings).
ChannelSave = Callable[[AsyncSession, int], Awaitable[None]]


DEMO_RULES = ("One clip of at most 60 seconds, your own performance, filmed by you.\n"
              "Your number is how the organiser reaches you; it is never shown.\n"
              "The organiser may refuse an entry that breaks these rules, and says why.")


async def seed_demo(sessions: Sessions, channels: Sequence[ChannelSave] = ()) -> Contest:
    """Create the demo contest if missing (with the channels' settings of it: `channels`); keep it open if an
    old one is about to close."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == DEMO_SLUG).with_for_update())
        if contest is None:
            contest = Contest(
                slug=DEMO_SLUG, name="Demo Star 2026", status=ContestStatus.OPEN,
                opens_at=now - timedelta(minutes=1), closes_at=now + timedelta(days=30),
                price_per_vote=100, currency="XAF", max_votes_per_order=100,
                providers=["mtn", "orange", "stripe"], default_language="fr",
                stars_per_vote=DEMO_STARS_PER_VOTE,
            )
            session.add(contest)
            await session.flush()
            for save in channels:
                await save(session, contest.id)
        elif contest.closes_at < now + timedelta(days=1):
            contest.closes_at = now + timedelta(days=30)
        if contest.stars_per_vote is None:  # a demo seeded before Stars existed
            contest.stars_per_vote = DEMO_STARS_PER_VOTE
        for code, name in DEMO_CANDIDATES:
            await session.execute(
                pg_insert(Candidate).values(contest_id=contest.id, code=code, name=name)
                .on_conflict_do_nothing(constraint="uq_candidates_contest_code")
            )
        await ensure_tallies(session, contest.id)
        # Entries open as long as the demo votes: a clip can be entered, approved and voted for on one machine.
        await session.execute(pg_insert(EntryCall).values(
            contest_id=contest.id, opens_at=contest.opens_at, closes_at=contest.closes_at, rules=DEMO_RULES,
        ).on_conflict_do_update(index_elements=[EntryCall.contest_id], set_={"closes_at": contest.closes_at}))
    return contest


async def seed_kenya_demo(sessions: Sessions) -> Contest:
    """Create the Kenyan demo contest if missing (KES 10 a vote, paid by an M-Pesa prompt; the sandbox's magic
    numbers: GET the sandbox's `/`); keep it open as the main one is kept; and M-Pesa's example fee rate in KES,
    by bands, where no owner keeps one."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        contest = await session.scalar(select(Contest).where(Contest.slug == KENYA_DEMO_SLUG).with_for_update())
        if contest is None:
            contest = Contest(
                slug=KENYA_DEMO_SLUG, name="Demo Star Kenya 2026", status=ContestStatus.OPEN,
                opens_at=now - timedelta(minutes=1), closes_at=now + timedelta(days=30),
                price_per_vote=1000, currency="KES", country="KE", time_zone="Africa/Nairobi", max_votes_per_order=100,
                providers=["mpesa"], default_language="en",
            )
            session.add(contest)
            await session.flush()
        elif contest.closes_at < now + timedelta(days=1):
            contest.closes_at = now + timedelta(days=30)
        for code, name in KENYA_DEMO_CANDIDATES:
            await session.execute(
                pg_insert(Candidate).values(contest_id=contest.id, code=code, name=name)
                .on_conflict_do_nothing(constraint="uq_candidates_contest_code")
            )
        await ensure_tallies(session, contest.id)
        await seed_example_fee_rate(session, "mpesa", "KES", KENYA_DEMO_MPESA_BANDS)
    return contest


async def seed_example_fee_rate(session: AsyncSession, provider: str, currency: str,
                                bands: Sequence[tuple[int, int]]) -> None:
    """A provider's example rate, by bands, unless an owner already keeps one (theirs is never overwritten)."""
    kept = await session.execute(pg_insert(ProviderFeeRate).values(
        provider=provider, currency=currency, percent_bp=0, fixed_minor=0, updated_by=SEEDED_BY)
        .on_conflict_do_nothing().returning(ProviderFeeRate.provider))
    if kept.first() is not None:
        session.add_all(ProviderFeeBand(provider=provider, currency=currency, up_to_minor=up_to, fixed_minor=fee,
                                        percent_bp=0) for up_to, fee in bands)


async def ensure_tallies(session: AsyncSession, contest_id: int) -> None:
    """Every candidate has a tally row, so a board shows zeros rather than gaps."""
    candidate_ids = await session.scalars(select(Candidate.id).where(Candidate.contest_id == contest_id))
    for candidate_id in candidate_ids.all():
        await session.execute(
            pg_insert(Tally).values(candidate_id=candidate_id, contest_id=contest_id, votes=0)
            .on_conflict_do_nothing()
        )
