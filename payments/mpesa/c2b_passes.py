"""M-Pesa's worker passes for the paybills (`ProviderParts.passes`, run as every pass is): each live contest's
paybill registered with Daraja (`payments.mpesa.c2b_register`), and read from its statement
(`payments.mpesa.c2b_statement`), its payments that no confirmation brought counted."""

from __future__ import annotations

import logging
from typing import Any

from gateway.core.money_in.paid_unasked import UnaskedOutcome
from gateway.core.providers import PaymentError
from gateway.kit.job_resources import JobResources
from payments.mpesa.c2b_routes import settle
from payments.mpesa.collections import MpesaCollections
from payments.mpesa.paybills import live_paybills
from payments.mpesa.request_cap import NAME

log = logging.getLogger(__name__)


def collections_of(ctx: JobResources[Any]) -> MpesaCollections | None:
    try:
        found = ctx.providers.get(NAME)
    except PaymentError:  # not set up here
        return None
    return found if isinstance(found, MpesaCollections) else None


async def paybills_of(ctx: JobResources[Any]) -> list[str]:
    async with ctx.sessions() as session:
        return await live_paybills(session)


async def register_pass(ctx: JobResources[Any]) -> dict[str, str]:
    """Every live paybill's URLs registered (once for each set of URLs); what Daraja said of each."""
    mpesa = collections_of(ctx)
    if mpesa is None:
        return {}
    done: dict[str, str] = {}
    for paybill in await paybills_of(ctx):
        try:
            done[paybill] = await mpesa.registration.register(paybill)
        except PaymentError as exc:
            log.warning("paybill %s: Daraja did not register its C2B URLs: %s", paybill, exc)
            done[paybill] = f"refused: {exc.code}"
    return done


async def statement_pass(ctx: JobResources[Any]) -> int:
    """Every live paybill's statement since its last whole read; the payments listed that no confirmation brought,
    counted (or held, or owed back) as theirs would have been. How many orders it wrote."""
    mpesa = collections_of(ctx)
    if mpesa is None:
        return 0
    written = 0
    for paybill in await paybills_of(ctx):
        try:
            listed = await mpesa.read_paybill(paybill)
        except PaymentError as exc:  # not registered for Pull Transactions, Daraja away: votes wait, said so
            log.warning("paybill %s: its statement could not be read: %s", paybill, exc)
            continue
        for notice, row in listed:
            outcome = await settle(ctx.sessions, notice, source="statement", body=row.encode())
            written += outcome in (UnaskedOutcome.COUNTED, UnaskedOutcome.HELD, UnaskedOutcome.REFUND_OWED)
    if written:
        log.info("paybill statements: %d payments no confirmation brought were settled", written)
        await ctx.relay_now()
    return written
