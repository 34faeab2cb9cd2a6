"""The web process's payment prompts: pushed once, retried through a provider outage, bounded,
and never cut off half sent at shutdown."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import cast

from gateway.core.money_in.start_queue import PaymentStarts
from gateway.core.money_in.starting import ClaimedStart, spent
from gateway.core.providers import Collection, PaymentError
from gateway.db.models import VoteOrder
from tests.waiting import until


class Provider:
    """Counts the prompts it was asked to push; fails the first `down_for` calls as a 503 would."""

    def __init__(self, down_for: int = 0, takes: float = 0.0, passes: asyncio.Semaphore | None = None) -> None:
        self.down_for = down_for
        self.takes = takes
        self.passes = passes  # each call answers only once the test lets one through
        self.calls: list[uuid.UUID] = []
        self.claims: list[object] = []
        self.pushed: list[uuid.UUID] = []
        self.at_once = 0
        self.most_at_once = 0

    async def start(self, order_id: uuid.UUID, claimed: object = None) -> None:
        self.calls.append(order_id)
        self.claims.append(claimed)
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            await asyncio.sleep(self.takes)
            if self.passes is not None:
                await self.passes.acquire()
            if len(self.calls) <= self.down_for:
                raise PaymentError("mtn", "SERVICE_UNAVAILABLE", "try later", retryable=True, status=503)
            self.pushed.append(order_id)
        finally:
            self.at_once -= 1


async def test_a_double_request_pushes_one_prompt() -> None:
    provider = Provider()
    starts = PaymentStarts(provider.start)
    order_id = uuid.uuid4()
    starts.request(order_id)
    starts.request(order_id)
    await starts.wait_idle()
    assert provider.pushed == [order_id]


async def test_a_provider_down_for_a_moment_still_gets_the_prompt_out() -> None:
    provider = Provider(down_for=2)
    starts = PaymentStarts(provider.start, retry_delays=(0.01, 0.01, 0.01))
    order_id = uuid.uuid4()
    starts.request(order_id)
    await starts.wait_idle()
    assert len(provider.calls) == 3 and provider.pushed == [order_id]


async def test_a_provider_down_for_long_is_left_to_the_reconciler() -> None:
    provider = Provider(down_for=100)
    starts = PaymentStarts(provider.start, retry_delays=(0.01, 0.01))
    starts.request(uuid.uuid4())
    await starts.wait_idle()
    assert len(provider.calls) == 3 and provider.pushed == [] and starts.in_flight == 0


async def test_a_burst_is_pushed_a_bounded_number_at_a_time() -> None:
    provider = Provider(takes=0.01)
    starts = PaymentStarts(provider.start, concurrency=4)
    orders = [uuid.uuid4() for _ in range(40)]
    for order_id in orders:
        starts.request(order_id)
    await starts.wait_idle()
    assert sorted(provider.pushed) == sorted(orders) and provider.most_at_once == 4


async def test_shutdown_finishes_prompts_being_sent_and_drops_the_rest() -> None:
    provider = Provider(takes=0.2)
    starts = PaymentStarts(provider.start, concurrency=1)
    sending, waiting, later = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    starts.request(sending)
    starts.request(waiting)
    starts.request(later, after=60)
    await asyncio.sleep(0.05)
    await starts.close(grace=5)
    assert provider.pushed == [sending] and starts.in_flight == 0


async def test_a_start_cut_off_at_shutdown_is_not_waited_for_as_done_and_none_starts_after() -> None:
    """A status check waiting for this process's start (a provider's word that beat its record) is told the start
    did not run to its end, so it does not check again; a new prompt asked for meanwhile is the reconciler's."""
    provider = Provider(takes=0.2)
    starts = PaymentStarts(provider.start, concurrency=1)
    sending, waiting = uuid.uuid4(), uuid.uuid4()
    starts.request(sending)
    starts.request(waiting)
    done = {order_id: asyncio.create_task(starts.wait_done(order_id)) for order_id in (sending, waiting)}
    await until(lambda: provider.calls == [sending])
    await starts.close(grace=5)
    assert await done[sending] is True and await done[waiting] is False
    starts.request(uuid.uuid4())
    assert starts.in_flight == 0 and provider.calls == [sending]


async def test_new_votes_wait_while_prompts_already_owed_queue_then_go_in_anyway() -> None:
    passes = asyncio.Semaphore(0)  # the provider answers no call until the test lets one through
    provider = Provider(passes=passes)
    starts = PaymentStarts(provider.start, concurrency=1)
    for _ in range(1 + 64):  # one calling, a full backlog waiting behind it
        starts.request(uuid.uuid4())
    await until(lambda: provider.at_once == 1)
    admitted = asyncio.create_task(starts.wait_for_room(timeout=60))
    for _ in range(20):  # every task runs as far as it can: nothing frees a slot while the provider is silent
        await asyncio.sleep(0)
    assert not admitted.done()  # held back while the owed prompts queue
    passes.release()  # the first call answers; one of those queued takes its slot
    await asyncio.wait_for(admitted, timeout=10)  # let in once one of them got its slot
    await until(lambda: provider.at_once == 1)
    starts.request(uuid.uuid4())  # the backlog is full again
    held_since = time.monotonic()
    await asyncio.wait_for(starts.wait_for_room(timeout=0.05), timeout=10)  # a slow answer, never a lost voter
    assert time.monotonic() - held_since >= 0.04 and provider.most_at_once == 1
    await starts.close(grace=0)


async def test_the_lease_a_placement_took_goes_with_every_attempt_spent_after_the_first() -> None:
    """A failure before the provider's call does not give it back: a retry without it would find the order held by
    its own lease and push nothing; a retry on it as it is might call the provider on a lease given back. So a retry
    renews it (`starting.fresh_claim`)."""
    provider = Provider(down_for=1)
    starts = PaymentStarts(provider.start, retry_delays=(0.01,))
    order_id = uuid.uuid4()
    lease = ClaimedStart(datetime.now(UTC), VoteOrder(), cast(Collection, None), deadline=0.0)
    starts.request(order_id, claimed=lease)
    await starts.wait_idle()
    assert provider.claims == [lease, spent(lease)] and provider.pushed == [order_id]


async def test_a_start_shut_down_before_its_call_gives_its_placements_lease_back() -> None:
    """The reconciler then starts it without waiting the lease out; a call under way keeps its own."""
    provider = Provider(takes=10)
    given_back: list[tuple[uuid.UUID, object]] = []

    async def give_back(order_id: uuid.UUID, claimed: object) -> None:
        given_back.append((order_id, claimed))

    starts = PaymentStarts(provider.start, give_back=give_back, concurrency=1)
    calling, waiting = uuid.uuid4(), uuid.uuid4()
    first, second = cast(ClaimedStart, object()), cast(ClaimedStart, object())
    starts.request(calling, claimed=first)
    starts.request(waiting, claimed=second)
    while len(provider.calls) < 1:
        await asyncio.sleep(0.01)
    await starts.close(grace=0)
    assert given_back == [(waiting, second)] and provider.calls == [calling]
