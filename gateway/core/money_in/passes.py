"""Money in's worker passes (gateway.core.worker_passes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from gateway.core.money_in.verification.by_list import verify_by_list
from gateway.core.money_in.verification.by_status import Verified
from gateway.core.worker_passes import PassResources, WorkerPass


async def verify_by_list_pass(resources: PassResources) -> list[tuple[uuid.UUID, Verified]]:
    """One read of each listing provider's payments (Stars: `getStarTransactions`) for all its due entries of
    the verification queue; the board moves at once when votes were taken back off or refunded."""
    verified: list[tuple[uuid.UUID, Verified]] = []
    for provider, payments in resources.providers.payment_lists().items():
        verified += await verify_by_list(resources.sessions, provider, payments, now=datetime.now(UTC),
                                         wait_for=payments.lags_by)
    if any(outcome in (Verified.DISAGREED, Verified.REFUNDED) for _, outcome in verified):
        await resources.relay_now()
    return verified


async def verified_by_list(resources: PassResources) -> int:
    return len(await verify_by_list_pass(resources))


# Payments counted on a chat's word checked against their provider's list (Stars: Telegram's).
PASSES = (WorkerPass("verify-by-list", verified_by_list, every=30),)
