"""What each provider keeps of a payment, as an owner keeps the rate (its contract's): a share in basis points and a
fixed part per payment; and, where the tariff goes by the payment's amount (a mobile-money business tariff: up to
KES 100 nothing, up to 500 five shillings...), bands. A payment falls in the first band whose `up_to` it does not
exceed, and costs that band's fixed fee plus its share of the payment, at most its cap; a payment above every band
costs the rate's own share and fixed part, as a rate without bands does.

Rounding, half up (`share`) as everywhere in a statement: a rate's own share once, on the sum of the payments it
applies to; a band's share per payment, since its cap is per payment."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.entered_number import entered_whole
from gateway.core.errors import DomainError
from gateway.db.engine import Sessions
from gateway.db.models import ProviderFeeBand, ProviderFeeRate

MOST_BANDS = 50


@dataclass(frozen=True)
class FeeBand:
    up_to: int  # the largest payment in the band, minor units
    fixed_minor: int = 0
    percent_bp: int = 0
    cap_minor: int | None = None  # the most a payment in the band costs

    def fee(self, amount: int) -> int:
        fee = self.fixed_minor + share(amount, self.percent_bp)
        return fee if self.cap_minor is None else min(fee, self.cap_minor)

    def as_text(self) -> str:
        """One line of the admin form: "up_to fee", then the share and the cap where it has them."""
        parts = [self.up_to, self.fixed_minor, *([self.percent_bp] if self.percent_bp or self.cap_minor else []),
                 *([self.cap_minor] if self.cap_minor is not None else [])]
        return " ".join(str(part) for part in parts)


@dataclass(frozen=True)
class FeeRate:
    percent_bp: int = 0
    fixed_minor: int = 0
    bands: tuple[FeeBand, ...] = ()  # by `up_to`, ascending

    def band_of(self, amount: int) -> FeeBand | None:
        return next((band for band in self.bands if amount <= band.up_to), None)


@dataclass(frozen=True)
class KeptRate:
    """A rate as an owner kept it, for the settlement page."""

    provider: str
    currency: str
    percent_bp: int
    fixed_minor: int
    updated_by: str
    bands: tuple[FeeBand, ...] = field(default=())

    @property
    def bands_text(self) -> str:
        return "\n".join(band.as_text() for band in self.bands)


def share(amount: int, basis_points: int) -> int:
    """`amount` × bp / 10000, rounded half up (the only rounding in a statement)."""
    return (amount * basis_points + 5000) // 10000


def fee_of(gross: int, payments: int, amounts: Iterable[tuple[int, int]], rate: FeeRate) -> int:
    """What a provider keeps of `payments` payments adding up to `gross`, of which `amounts` says how many there were
    of each amount ((amount, count) pairs: needed where the rate has bands)."""
    banded_fee = banded_gross = banded_count = 0
    for amount, count in amounts if rate.bands else ():
        if (band := rate.band_of(amount)) is not None:
            banded_fee += band.fee(amount) * count
            banded_gross += amount * count
            banded_count += count
    return banded_fee + share(gross - banded_gross, rate.percent_bp) + rate.fixed_minor * (payments - banded_count)


def parse_bands(text: str) -> tuple[FeeBand, ...]:
    """The admin form's bands, one a line: "up_to fee [share_bp [cap]]", in minor units; blank lines skipped."""
    bands = []
    for number, line in enumerate(text.replace(",", " ").splitlines(), start=1):
        if not (words := line.split()):
            continue
        if len(words) > 4:
            raise DomainError(f"Band line {number}: up to, fee, and optionally a share in basis points and a cap, "
                              "as whole numbers.", code="invalid_field", field="bands")
        numbers = [entered_whole(word, "bands", label=f"Band line {number}: each number") for word in words]
        if len(numbers) < 2:
            raise DomainError(f"Band line {number}: up to which amount, and its fee.", code="invalid_field",
                              field="bands")
        bands.append(FeeBand(numbers[0], numbers[1], numbers[2] if len(numbers) > 2 else 0,
                             numbers[3] if len(numbers) > 3 else None))
    return checked_bands(bands)


def checked_bands(bands: Sequence[FeeBand]) -> tuple[FeeBand, ...]:
    ordered = tuple(sorted(bands, key=lambda band: band.up_to))
    if len(ordered) > MOST_BANDS or len({band.up_to for band in ordered}) != len(ordered):
        raise DomainError(f"Up to {MOST_BANDS} bands, each up to a different amount.", code="invalid_field",
                          field="bands")
    if any(band.up_to <= 0 or band.fixed_minor < 0 or not 0 <= band.percent_bp <= 10_000
           or (band.cap_minor is not None and band.cap_minor < 0) for band in ordered):
        raise DomainError("A band goes up to an amount above 0, its fee and cap 0 or more, its share 0 to 10000 "
                          "basis points.",
                          code="invalid_field", field="bands")
    return ordered


async def set_fee_rate(sessions: Sessions, actor: Actor, provider: str, currency: str, percent_bp: int,
                       fixed_minor: int, bands: Sequence[FeeBand] = ()) -> None:
    """What a provider keeps of each payment in a currency, as its contract says (an owner's, audited); its bands
    replace those it had."""
    provider, currency = provider.strip().lower(), currency.strip().upper()
    if not provider or len(provider) > 32 or len(currency) != 3 or not currency.isalpha():
        raise DomainError("A provider's name and a three-letter currency.", code="invalid_field", field="provider")
    if not 0 <= percent_bp <= 10_000 or fixed_minor < 0:
        raise DomainError("The rate: 0 to 10000 basis points, and a fixed part of 0 or more.", code="invalid_field",
                          field="percent_bp")
    banded = checked_bands(bands)
    values = {"percent_bp": percent_bp, "fixed_minor": fixed_minor, "updated_by": actor.email}
    async with sessions.begin() as session:
        await session.execute(pg_insert(ProviderFeeRate).values(provider=provider, currency=currency, **values)
                              .on_conflict_do_update(index_elements=["provider", "currency"], set_=values))
        await session.execute(delete(ProviderFeeBand).where(ProviderFeeBand.provider == provider,
                                                            ProviderFeeBand.currency == currency))
        session.add_all(band_row(provider, currency, band) for band in banded)
        await audit.record(session, actor, "settlement.fee_rate", f"provider:{provider}:{currency}",
                           after={"percent_bp": percent_bp, "fixed_minor": fixed_minor,
                                  "bands": [band.as_text() for band in banded]})


def band_row(provider: str, currency: str, band: FeeBand) -> ProviderFeeBand:
    return ProviderFeeBand(provider=provider, currency=currency, up_to_minor=band.up_to, fixed_minor=band.fixed_minor,
                           percent_bp=band.percent_bp, cap_minor=band.cap_minor)


async def kept_rates(session: AsyncSession) -> list[KeptRate]:
    """Every rate an owner kept, with its bands, by provider and currency."""
    bands: dict[tuple[str, str], list[FeeBand]] = {}
    for row in await session.scalars(select(ProviderFeeBand).order_by(ProviderFeeBand.up_to_minor)):
        bands.setdefault((row.provider, row.currency), []).append(
            FeeBand(row.up_to_minor, row.fixed_minor, row.percent_bp, row.cap_minor))
    rates = await session.scalars(select(ProviderFeeRate).order_by(ProviderFeeRate.provider, ProviderFeeRate.currency))
    return [KeptRate(rate.provider, rate.currency, rate.percent_bp, rate.fixed_minor, rate.updated_by,
                     tuple(bands.get((rate.provider, rate.currency), ()))) for rate in rates]


async def rates_by_provider(session: AsyncSession) -> dict[tuple[str, str], FeeRate]:
    return {(kept.provider, kept.currency): FeeRate(kept.percent_bp, kept.fixed_minor, kept.bands)
            for kept in await kept_rates(session)}


async def fee_rates(sessions: Sessions) -> list[KeptRate]:
    async with sessions() as session:
        return await kept_rates(session)
