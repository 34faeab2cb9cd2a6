"""Fraud's worker passes (gateway.core.worker_passes)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.core.fraud.counter_sweep import sweep_counters
from gateway.core.fraud.shared_learning import learn_shared_addresses
from gateway.core.worker_passes import PassResources, WorkerPass


async def shared_addresses(resources: PassResources) -> str:
    """Addresses learned to be a crowd's, or no longer; then the fraud counters nobody will read again removed."""
    now = datetime.now(UTC)
    learned, forgotten = await learn_shared_addresses(resources.sessions, now)
    swept = await sweep_counters(resources.sessions, now)
    return f"{learned} shared addresses learned or kept, {forgotten} forgotten; {swept} stale counters removed"


PASSES = (WorkerPass("shared-addresses", shared_addresses, every=600),)
