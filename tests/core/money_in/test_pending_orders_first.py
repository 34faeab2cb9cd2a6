"""With a provider's callbacks lost every vote waits for the reconciler: its checks of pending orders have the
provider's status-call cap before the verification of orders already counted, which takes the turns they leave, and
all of them together stay under the cap. Through the running app (its verification loop) and the reconciler's job as
the worker runs it, with MTN faked at the wire."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import func, text, update

from assembly.settings import Settings
from assembly.web.keys import STARTS
from assembly.worker.job_runtime import JobContext
from assembly.worker.worker_jobs import reconcile_pass
from gateway.core.orders import tables
from gateway.db.engine import Sessions
from gateway.db.models import Contest, OrderStatus, PaymentVerification
from gateway.kit.keys import PROVIDERS
from tests.factories import assert_tally_invariant, make_contest, place
from tests.fakes.mtn import FakeMtn, callback, paid_body, reference_of
from tests.payments.capped_gateway import most_in_any_second
from tests.waiting import until

LOST = 45  # orders paid at MTN whose callback never came: 5 s at the cap
COUNTED = 40  # orders counted on their callback, their verification due


async def test_with_callbacks_lost_pending_orders_have_the_cap_before_verification_and_all_stay_under_it(
    client: TestClient, sessions: Sessions, redis: Redis, settings: Settings, fake_mtn: FakeMtn
) -> None:
    contest = await make_contest(sessions, slug="gala")
    counted, lost = await placed(client, sessions, contest, COUNTED), await placed(client, sessions, contest, LOST)
    for order_id in counted:
        order = await tables.get_order(sessions, order_id)
        fake_mtn.decide(order.payment_reference, "SUCCESSFUL")
        assert await callback(client, order_id, paid_body(order)) == 200
    waiting = {str(await reference_of(sessions, order_id)) for order_id in lost}
    for reference in waiting:
        fake_mtn.decide(uuid.UUID(reference), "SUCCESSFUL")
    async with sessions.begin() as session:  # the reconciler looks at an order 30 s after it was placed
        await session.execute(text("UPDATE vote_orders SET created_at = now() - interval '31 seconds'"))
        await session.execute(update(PaymentVerification).values(due_at=func.now()))
    await until(lambda: len(fake_mtn.asked) >= 3)  # the web process's verification is under way

    await reconcile_pass(JobContext(settings, sessions, redis, client.app[PROVIDERS]))

    assert {(await tables.get_order(sessions, order_id)).status for order_id in lost} == {OrderStatus.PAID}
    calls = list(zip(fake_mtn.asked_at, fake_mtn.asked, strict=True))
    pending_calls = sorted(at for at, reference in calls if reference in waiting)
    first, last = min(pending_calls), max(pending_calls)
    verifications = [at for at, reference in calls if reference not in waiting and first <= at <= last]
    cap = settings.mtn_momo_status_calls_per_second
    # While pending orders waited, their checks went at the pace the cap allows (90% of it is ours, the rest absorbs
    # jitter): the median gap between two of them is within 1/(80% of the cap). The median, not the mean: a machine
    # whose every core is busy may stall a few turns, which says nothing of the order the turns are given in. The
    # verification backlog waited, and took a few turns at most.
    gaps = sorted(later - earlier for earlier, later in zip(pending_calls, pending_calls[1:], strict=False))
    assert gaps[len(gaps) // 2] <= 1 / (0.8 * cap), (len(pending_calls), last - first, gaps)
    assert len(verifications) <= 0.1 * len(pending_calls), len(verifications)
    assert most_in_any_second(fake_mtn.asked_at) <= cap  # every status call, both kinds, under MTN's cap
    await assert_tally_invariant(sessions, contest.id)


async def placed(client: TestClient, sessions: Sessions, contest: Contest, orders: int) -> list[uuid.UUID]:
    """Orders from as many payers, their prompts sent to MTN."""
    ids = [(await place(sessions, contest, msisdn=f"+23767{uuid.uuid4().int % 10**7:07}")).id for _ in range(orders)]
    for order_id in ids:
        client.app[STARTS].request(order_id)
    await client.app[STARTS].wait_idle()
    return ids
