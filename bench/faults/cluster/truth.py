"""What the final database holds, and the provider's own word: read once the load stopped and the cluster settled.

The orders, SMS answers and ledger are read as the rehearsal reads them (assembly/operations/rehearsal/readings.py),
from the primary directly; the votes the database says nothing counted for are asked of the MTN sandbox (a status GET on
the order's payment reference, as the service's own check does): "SUCCESSFUL" there is money taken, so that vote is
lost.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import text

from assembly.operations.rehearsal import readings
from assembly.operations.rehearsal.outcomes import Order
from assembly.operations.rehearsal.verdict import LedgerFinding
from bench.faults.cluster.history import Asked, not_counted
from gateway.db.engine import create_engine, session_factory

# The sandbox's MTN account, as services.host_environment gives it to the web hosts.
MTN_USER, MTN_KEY, MTN_SUBSCRIPTION, MTN_ENVIRONMENT = ("sandbox-api-user", "sandbox-api-key",
                                                        "sandbox-subscription-key", "sandbox")


@dataclass
class Final:
    end: readings.End
    ledger: LedgerFinding
    charged: set[str]  # ids of not-counted acknowledged orders the provider says it was paid for
    asked_provider: int
    waited: float  # seconds until every order of the run was decided (or the wait ran out)
    pending: int


REFERENCES = text("SELECT id::text, payment_reference::text FROM vote_orders WHERE id = ANY(:ids)")


async def read_final(database_url: str, sandbox_url: str, history: list[Asked], began: readings.Start,
                     settle_within: float) -> Final:
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    votes = [asked.vote for asked in history]
    try:
        started = time.monotonic()
        pending = await readings.undecided(sessions, votes, began)
        while pending and time.monotonic() < started + settle_within:
            await asyncio.sleep(2)
            pending = await readings.undecided(sessions, votes, began)
        waited = time.monotonic() - started
        end = await readings.end(sessions, votes, began)
        ledger = await readings.ledger_finding(sessions, began.contest_id)
        unpaid: list[Order] = not_counted(history, end.orders, end.sms)
        references: dict[str, str] = {}
        if unpaid:
            async with sessions() as session:
                rows = (await session.execute(REFERENCES, {"ids": [order.id for order in unpaid]})).all()
                references = {str(row[0]): str(row[1]) for row in rows}
    finally:
        await engine.dispose()
    charged = await provider_says_paid(sandbox_url, references)
    return Final(end, ledger, charged, len(references), waited, pending)


async def provider_says_paid(sandbox_url: str, references: dict[str, str]) -> set[str]:
    """The order ids whose request-to-pay MTN's sandbox answers SUCCESSFUL (paced under its status cap)."""
    if not references:
        return set()
    paid = set()
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/mtn", timeout=10) as client:
        token = (await client.post("/collection/token/", auth=(MTN_USER, MTN_KEY),
                                   headers={"Ocp-Apim-Subscription-Key": MTN_SUBSCRIPTION})).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Target-Environment": MTN_ENVIRONMENT,
                   "Ocp-Apim-Subscription-Key": MTN_SUBSCRIPTION}
        for order_id, reference in references.items():
            for _ in range(20):
                answer = await client.get(f"/collection/v1_0/requesttopay/{reference}", headers=headers)
                if answer.status_code != 429:
                    break
                await asyncio.sleep(0.5)
            if answer.status_code == 200 and answer.json().get("status") == "SUCCESSFUL":
                paid.add(order_id)
    return paid
