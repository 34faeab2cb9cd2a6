"""The worker's reconciler pass verifies callback-counted orders too, on the reconciler's share
of the status-call cap, and takes back the votes of one whose status disagrees (after a restart of the web
process that counted it: the queue is in PostgreSQL)."""

from __future__ import annotations

import httpx
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from assembly.resources.providers import build_providers
from assembly.settings import Settings
from assembly.web.app import create_app
from assembly.worker.job_runtime import JobContext
from assembly.worker.worker_jobs import reconcile_pass
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import AuditEntry, OrderStatus, PaymentVerification
from tests.factories import assert_tally_invariant, make_contest, tallies
from tests.fakes.mtn import FakeMtn, callback, paid_body, vote


async def test_a_reconciler_pass_verifies_what_is_due_and_reverses_a_disagreement(
        settings: Settings, sessions: Sessions, redis: Redis, fake_mtn: FakeMtn) -> None:
    contest = await make_contest(sessions, slug="gala")
    async with TestClient(TestServer(create_app(settings))) as web:  # counted, then the web process is gone
        agreed = await vote(web, "gala", quantity=2, msisdn="+237670000001")
        disagreed = await vote(web, "gala", quantity=5, msisdn="+237670000002")
        for order_id in (agreed, disagreed):
            order = await tables.get_order(sessions, order_id)
            fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
            assert await callback(web, order_id, paid_body(order)) == 200
    assert (await tallies(sessions, contest.id))["01"] == 7 and fake_mtn.status_calls == 0
    fake_mtn.decide((await tables.get_order(sessions, disagreed)).payment_reference, "FAILED",
                    reason="INTERNAL_PROCESSING_ERROR")
    async with sessions.begin() as session:
        await session.execute(update(PaymentVerification).values(due_at=func.now()))
    async with httpx.AsyncClient() as http:
        registry = build_providers(settings, http)
        await reconcile_pass(JobContext(settings, sessions, redis, registry))
        await registry.aclose()
    assert fake_mtn.status_calls == 2
    assert (await tables.get_order(sessions, agreed)).status is OrderStatus.PAID
    assert (await tables.get_order(sessions, disagreed)).status is OrderStatus.FLAGGED
    assert (await tallies(sessions, contest.id))["01"] == 2
    await assert_tally_invariant(sessions, contest.id)
    async with sessions() as session:
        rows = await session.execute(select(PaymentVerification.order_id, PaymentVerification.outcome))
        outcomes = {order_id: outcome for order_id, outcome in rows}
        audited = list(await session.scalars(select(AuditEntry.target)))
    assert outcomes[agreed] == "agreed" and (outcomes[disagreed] or "").startswith("disagreed:")
    assert audited == [str(disagreed)]
