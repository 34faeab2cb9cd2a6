"""Money out's worker passes (gateway.core.worker_passes): refunds and payouts sent by their provider's API and
followed until settled; payments too late to count given back; the daily money check and the hourly balances."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from gateway.core.money_out.balance_check import check_balances
from gateway.core.money_out.late_refunds import refund_late_orders
from gateway.core.money_out.money_reconciliation import Budget, Resume, reconcile_money
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


# A day of a big show takes more status calls than one pass may make (on the status turns pending orders' checks
# leave, 9 a second of MTN's at most): each pass reads its share, and says where the next one goes on.
MONEY_CHECK_PASS_SECONDS = 120.0
MONEY_CHECK_KEPT_SECONDS = 3 * 24 * 3600  # a day read, or where its reading stopped
BALANCE_READ_SECONDS = 3300  # the balances are read about once an hour
BALANCES_READ = "money-check:balances"


async def money_check_turn(resources: PassResources) -> str:
    """Yesterday's books against each provider's word, a share of the day per pass until it is read through
    (money_reconciliation); every hour, the account balances against the books (balance_check)."""
    day, lines = datetime.now(UTC).date() - timedelta(days=1), []
    deadline = asyncio.get_running_loop().time() + MONEY_CHECK_PASS_SECONDS
    notes = resources.notes
    read_balances = await notes.read(BALANCES_READ) is None
    for provider in resources.providers.names():
        done, at = f"money-check:{provider}:{day.isoformat()}", f"money-check-at:{provider}:{day.isoformat()}"
        if await notes.read(done) is None:
            kept = await notes.read(at)
            report = await reconcile_money(resources.sessions, resources.providers, provider, day,
                                           resources.pace("money-check"),
                                           resume=Resume.from_json(kept) if kept else None,
                                           budget=Budget(deadline))
            if report.resume is None:
                await notes.keep(done, "1", MONEY_CHECK_KEPT_SECONDS)
                await notes.forget(at)
            else:
                await notes.keep(at, report.resume.as_json(), MONEY_CHECK_KEPT_SECONDS)
            lines.append(report.summary())
        if read_balances:  # yesterday's differences moved money before the last reading: none explains a move now
            lines += [balance.summary()
                      for balance in await check_balances(resources.sessions, resources.providers, provider)]
    if read_balances:  # once they were read: a pass that failed before tries again at the next one
        await notes.keep(BALANCES_READ, "1", BALANCE_READ_SECONDS)
    return "; ".join(lines) or f"{day.isoformat()} read already"


PASSES = (WorkerPass("refunds", refunds, every=30), WorkerPass("late_refunds", late_refunds, every=30),
          WorkerPass("payouts", payouts, every=30),
          # a share of yesterday's books per pass (at most MONEY_CHECK_PASS_SECONDS), the balances every hour
          WorkerPass("money-check", money_check_turn, every=300))
