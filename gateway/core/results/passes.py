"""The results wing's worker pass (gateway.core.worker_passes): the vote ledger's rounds (checkpoints)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from gateway.core.results.checkpoints import checkpoint_pass
from gateway.core.worker_passes import PassResources, WorkerPass

log = logging.getLogger(__name__)
LEDGER_ROUNDS_SECONDS = 300


async def ledger_checkpoint_pass(resources: PassResources) -> list[str]:
    done = await checkpoint_pass(resources.sessions, resources.results_key(), datetime.now(UTC))
    if done:
        log.info("ledger: %s", ", ".join(done))
    return done


# hourly ledger checkpoints; at close, a checkpoint and a signed results sheet
PASSES = (WorkerPass("ledger-checkpoint", ledger_checkpoint_pass, every=LEDGER_ROUNDS_SECONDS),)
