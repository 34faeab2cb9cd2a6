"""Money in's worker passes (gateway.core.worker_passes): the verification by list, and the body of the reconciler's
pass, which the roof runs with what it needs from the worker (`ReconcileParts`: the paces, the lease, the note of
its age; assembly.worker.worker_jobs.reconcile_pass)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.core.money_in.checking import StatusPace
from gateway.core.money_in.reconciler import reconcile
from gateway.core.money_in.reconciler_sweep import FoundPaid
from gateway.core.money_in.verification.by_list import verify_by_list
from gateway.core.money_in.verification.by_status import Verified, verify_due
from gateway.core.providers import Providers
from gateway.core.worker_passes import PassResources, WorkerPass
from gateway.db.engine import Sessions

log = logging.getLogger(__name__)


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

# A pass stops here (the next one carries on), under the job's own time-out (`ReconcileTimes`): a renewed lease must
# not let one stuck pass keep every other away for hours.
RECONCILE_PASS_SECONDS = 200.0
VERIFICATIONS_PER_PASS = 100  # ~11 s at 9 status calls a second (MTN), more beside the web processes' verifications
VERIFY_PASS_SECONDS = 10.0  # claims of a pass's verification, at most this long: the next orders to check wait
# A verification's provider call at its slowest: each of MTN's four tries timed out (4 x 15 s), and 6 s of pauses.
SLOWEST_VERIFICATION_CALL = 70.0


@dataclass(frozen=True)
class ReconcileTimes:
    """How long each piece of a reconciler pass may take, so that the whole ends within its job's time-out: past it
    RQ kills the job, which then neither notes its pass nor relays what it counted, and is logged FAILED. Each piece
    stops starting work early enough for the work it started to end in time, at its worst; should the worst be
    worse, the pass cuts what is under way at its budget (`budget`), as RQ would, and still notes and relays."""

    job_timeout: float  # the periodic job's (assembly.worker.periodic_enqueuer.PERIODIC_JOB_TIMEOUT)
    # One verification at its slowest: no spare turn for the kit's `SPARE_PATIENCE`, then its provider call at its
    # slowest (SLOWEST_VERIFICATION_CALL). After a long sweep (callbacks lost, every turn theirs) the pass leaves
    # verification to the web processes.
    verification: float
    # The job's time besides the checks: before them (the job runtime's start, the lease), after them (the lease let
    # go, the pass noted, what it changed relayed: a batch of the outbox).
    margin: float = 25.0
    sweep: float = RECONCILE_PASS_SECONDS  # pending orders' checks start within this long
    order_check: float = 80.0  # one order's at its slowest: a provider call, then its lost prompt sent again
    verify: float = VERIFY_PASS_SECONDS  # verification claims start within this long of its start

    @property
    def budget(self) -> float:
        """Seconds from the pass's start within which its checks and verifications end."""
        return self.job_timeout - self.margin

    def sweep_stop_after(self) -> float:
        return max(0.0, min(self.sweep, self.budget - self.order_check))

    def verify_stop_after(self, elapsed: float) -> float | None:
        """How long the pass's verification may claim, `elapsed` seconds into the pass; None: not in this pass (the
        web processes verify too, and the next pass comes within seconds)."""
        left = self.budget - elapsed - self.verification
        return min(self.verify, left) if left > 0 else None


@dataclass(frozen=True)
class ReconcileParts:
    """What the reconciler's pass uses of the worker, which the core does not reach itself."""

    sessions: Sessions
    providers: Providers
    pace: StatusPace  # the schedule of status calls every process shares under each provider's cap
    spare_pace: StatusPace  # the turns pending orders' checks leave: verification's
    lease: Callable[[], AbstractAsyncContextManager[bool]]  # held (True) by one pass at a time
    note_pass: Callable[[], Awaitable[None]]  # the pass's age, which /metrics and /readyz watch
    found: FoundPaid  # told of each order found paid, as it is (`found_paid.note_found_paid`)
    relay_now: Callable[[], Awaitable[None]]  # delivers what the pass committed to the outbox


async def reconcile_pass(parts: ReconcileParts, times: ReconcileTimes) -> str:
    """One reconciler pass, within its job's time-out (`times`); a lease keeps two passes from checking the same
    orders at once."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with parts.lease() as held:
        if not held:
            # The lease is renewed only while its holder runs: a long pass (hundreds of due orders paced
            # under MTN's cap) is alive, and /readyz must not call the reconciler silent meanwhile.
            await parts.note_pass()
            return "another pass is running"
        budget = asyncio.timeout_at(started + times.budget)
        try:
            async with budget:
                report = await reconcile(parts.sessions, parts.providers, pace=parts.pace,
                                         stop_after=times.sweep_stop_after(), found=parts.found)
                stop_after = times.verify_stop_after(loop.time() - started)
                verified = await verify_share(parts, stop_after) if stop_after is not None else []
        except TimeoutError:
            if not budget.expired():
                raise
            # Slower than its pieces' worst: what is under way is cut as RQ's time-out would cut it, and taken up
            # again by the next pass; what was counted is relayed all the same.
            log.warning("reconciler pass cut short at its %.0f s, near its job's time-out", times.budget)
            report, verified = None, []
        await parts.note_pass()  # the age /metrics and /readyz watch
    if report is None or report.changed or any(outcome is Verified.DISAGREED for _, outcome in verified):
        await parts.relay_now()
        log.info("reconciler: %s", report.summary() if report is not None else "cut short")
    return report.summary() if report is not None else f"cut short after {times.budget:.0f} s"


async def verify_share(parts: ReconcileParts, stop_after: float) -> list[tuple[uuid.UUID, Verified]]:
    """Callback verification: what is due, on the status turns pending orders' checks leave, for a little while:
    orders that fall due meanwhile wait for the next pass."""
    return await verify_due(parts.sessions, parts.providers, pace=parts.spare_pace, limit=VERIFICATIONS_PER_PASS,
                            stop_after=stop_after)
