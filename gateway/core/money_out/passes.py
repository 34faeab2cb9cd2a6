"""Money out's worker passes (gateway.core.worker_passes): refunds and payouts sent by their provider's API and
followed until settled; payments too late to count given back."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.core.money_out.late_refunds import refund_late_orders
from gateway.core.money_out.payouts_sent import payouts_pass
from gateway.core.money_out.refunds_sent import refunds_pass
from gateway.core.money_out.transfers import Turn
from gateway.core.worker_passes import PassResources, WorkerPass


def _turns(turns: list[Turn]) -> str:
    return ", ".join(f"{turn.reference}: {turn.outcome}" for turn in turns) or "nothing due"


async def refunds(resources: PassResources) -> str:
    """Refunds owed by a provider that refunds by API, sent and followed (refunds_sent)."""
    return _turns(await refunds_pass(resources.sessions, resources.providers, datetime.now(UTC)))


async def late_refunds(resources: PassResources) -> str:
    """Payments confirmed after the lines closed and their grace, given back (late_refunds)."""
    return ", ".join(await refund_late_orders(resources.sessions, resources.providers, datetime.now(UTC))) \
        or "nothing due"


async def payouts(resources: PassResources) -> str:
    """Approved payouts to a wallet, sent by the provider's API and followed (payouts_sent)."""
    return _turns(await payouts_pass(resources.sessions, resources.providers, datetime.now(UTC)))


PASSES = (WorkerPass("refunds", refunds, every=30), WorkerPass("late_refunds", late_refunds, every=30),
          WorkerPass("payouts", payouts, every=30))
