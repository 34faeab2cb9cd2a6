"""Providers' fees by bands of the payment's amount (mobile-money business tariffs): each payment costs its band's
fee, plus its share rounded half up, at most its cap; above every band the rate's own share and fixed part. A KES
contest paid by M-Pesa (the Kenyan demo's example bands, as `gateway seed --demo` keeps them) and Airtel Money (an
owner's bands with a share and a cap) settles with each provider's fees by its bands, on its statement too."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from gateway.core.audit import Actor
from gateway.core.errors import DomainError
from gateway.core.money_out import fee_rates, settlements
from gateway.core.money_out.fee_rates import FeeBand, FeeRate, fee_of, parse_bands
from gateway.core.orders import counting, refunding
from gateway.db import seed
from gateway.db.engine import Sessions
from gateway.db.models import OrderStatus, ProviderFeeBand, ProviderFeeRate
from tests.factories import make_contest, place

OWNER = Actor(None, "owner@example.org", "owner")
AIRTEL_BANDS = (FeeBand(10_000, 0), FeeBand(100_000, 0, 125, 1_000))  # free to KES 100, then 1.25% at most KES 10


def test_a_payment_costs_its_bands_fee_and_share_at_most_its_cap() -> None:
    rate = FeeRate(percent_bp=100, fixed_minor=10, bands=AIRTEL_BANDS)
    assert fee_of(5_000, 1, [(5_000, 1)], rate) == 0
    assert fee_of(33_000, 1, [(33_000, 1)], rate) == 413  # 412.5 rounds half up
    assert fee_of(99_000, 1, [(99_000, 1)], rate) == 1_000  # 1,237.5, capped
    assert fee_of(150_000, 1, [(150_000, 1)], rate) == 1_510  # above every band: 1% + 10
    assert fee_of(66_000, 2, [(33_000, 2)], rate) == 826  # each payment rounded, then added
    assert fee_of(1_500, 3, [], FeeRate(150, 5)) == 38  # no bands: the share once, on the sum, as before


def test_the_form_s_bands_are_read_one_a_line_and_bad_ones_refused() -> None:
    assert parse_bands("10000 0\n\n100000, 0, 125, 1000\n50000 500") == (
        FeeBand(10_000, 0), FeeBand(50_000, 500), FeeBand(100_000, 0, 125, 1_000))
    for bad, why in (("10000", "Band line 1"), ("10000 -5", "Band line 1"), ("0 0\nx y", "Band line 2"),
                     ("10000 0\n10000 5", "different amount"), ("10000 0 20000", "basis points")):
        with pytest.raises(DomainError, match=why):
            parse_bands(bad)


async def test_a_kes_contest_paid_by_mpesa_and_airtel_settles_with_each_providers_fees_by_its_bands(
        sessions: Sessions) -> None:
    await seed.seed_kenya_demo(sessions)  # M-Pesa's example bands in KES
    await fee_rates.set_fee_rate(sessions, OWNER, "airtel", "kes", 100, 10, AIRTEL_BANDS)
    contest = await make_contest(sessions, currency="KES", price_per_vote=1_000, providers=["mpesa", "airtel"],
                                 max_votes_per_order=200)
    for provider, phone, quantities in (("mpesa", "+2547120000", (5, 20, 100, 20)),
                                        ("airtel", "+2547330000", (5, 33, 99, 150))):
        for number, quantity in enumerate(quantities):
            order = await place(sessions, contest, quantity=quantity, provider=provider, msisdn=f"{phone}{number:02d}")
            await counting.confirm_payment(sessions, order.id, "SUCCESSFUL", order.amount, "KES",
                                           f"{provider}-{number}", provider=provider)
    await refunding.uncount(sessions, order.id, OrderStatus.REFUND_REQUESTED, "owed back")  # its fee stays
    [kes] = (await settlements.settlement(sessions, OWNER, contest.id)).figures
    # M-Pesa: KES 50 free, KES 200 and KES 200 five shillings each, KES 1,000 ten; Airtel: 0 + 413 + 1,000 + 1,510.
    assert [(line.takings.provider, line.fees) for line in kes.lines] == [("airtel", 2_923), ("mpesa", 2_000)]
    assert (kes.gross, kes.refunds, kes.fees) == (432_000, 150_000, 4_923)
    text = (await settlements.sign_statement(sessions, Ed25519PrivateKey.generate(), OWNER, contest.id)).statement
    assert "provider,airtel,KES,4,287000,150000,2923,," in text.decode()
    assert "provider,mpesa,KES,4,145000,0,2000,," in text.decode()


async def test_the_demo_seeds_mpesas_example_once_and_never_over_an_owners_rate(sessions: Sessions) -> None:
    await seed.seed_kenya_demo(sessions)
    [kept] = await fee_rates.fee_rates(sessions)
    assert (kept.provider, kept.currency, kept.bands[0], kept.bands[-1]) == (
        "mpesa", "KES", FeeBand(10_000, 0), FeeBand(25_000_000, 10_800))
    assert "example" in kept.updated_by
    await fee_rates.set_fee_rate(sessions, OWNER, "mpesa", "KES", 55, 0, [FeeBand(20_000, 0)])
    await seed.seed_kenya_demo(sessions)
    async with sessions() as session:
        assert await session.scalar(select(ProviderFeeRate.updated_by)) == OWNER.email
        assert list(await session.scalars(select(ProviderFeeBand.up_to_minor))) == [20_000]
