"""A lane's hand-overs: a lone item goes at once and alone; items that come while one is under way, or within the
lane's pace of its start, go together in the next, up to its most; a failed hand-over is told to each of its
callers and the lane goes on; nothing added is left behind at close."""

from __future__ import annotations

import asyncio

import pytest

from gateway.kit.hand_over_lane import HandOverLane


class Receiver:
    """A hand-over whose end the test decides: each batch waits until let through."""

    def __init__(self, fail_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.let_through = asyncio.Event()
        self.fail_first = fail_first

    async def __call__(self, items: list[int]) -> None:
        self.batches.append(items)
        await self.let_through.wait()
        if self.fail_first and len(self.batches) == 1:
            raise ConnectionError("the queue is away")


async def until(condition: object) -> None:
    async with asyncio.timeout(10):
        while not (condition() if callable(condition) else condition):
            await asyncio.sleep(0)


async def test_a_lone_item_is_handed_over_at_once() -> None:
    receiver = Receiver()
    receiver.let_through.set()
    lane = HandOverLane[int](receiver)
    await lane.add(1)
    assert receiver.batches == [[1]]


async def test_items_that_come_while_one_is_handed_over_go_together_next() -> None:
    receiver = Receiver()
    lane = HandOverLane[int](receiver, most=3)
    first = asyncio.create_task(lane.add(1))
    await until(lambda: receiver.batches == [[1]])
    later = [asyncio.create_task(lane.add(n)) for n in range(2, 7)]
    await asyncio.sleep(0)  # each has run to its wait
    # None of them goes alone, nor before the hand-over under way ends.
    assert receiver.batches == [[1]] and not any(task.done() for task in later)
    receiver.let_through.set()
    await asyncio.gather(first, *later)
    assert receiver.batches == [[1], [2, 3, 4], [5, 6]]
    assert (lane.batches, lane.items) == (3, 6)


async def test_an_item_that_comes_within_the_pace_of_the_last_hand_over_waits_for_it_with_those_after_it() -> None:
    receiver = Receiver()
    receiver.let_through.set()
    lane = HandOverLane[int](receiver, pace=0.3)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await lane.add(1)
    second = asyncio.create_task(lane.add(2))
    await asyncio.sleep(0)
    third = asyncio.create_task(lane.add(3))
    await asyncio.gather(second, third)
    assert loop.time() - began >= 0.3  # a sleep never ends early, however busy the machine
    assert receiver.batches == [[1], [2, 3]]
    await lane.close()
    await lane.add(4)  # after a quiet spell as long as the pace: at once
    assert receiver.batches[-1] == [4]


async def test_a_failed_hand_over_is_told_to_its_callers_and_the_next_goes_on() -> None:
    receiver = Receiver(fail_first=True)
    lane = HandOverLane[int](receiver)
    first = asyncio.create_task(lane.add(1))
    await until(lambda: receiver.batches == [[1]])
    second = asyncio.create_task(lane.add(2))
    receiver.let_through.set()
    with pytest.raises(ConnectionError):
        await first
    await second
    assert receiver.batches == [[1], [2]]


async def test_a_caller_cut_short_leaves_its_item_in_the_batch_and_close_waits_for_it() -> None:
    receiver = Receiver()
    lane = HandOverLane[int](receiver)
    cut = asyncio.create_task(lane.add(1))
    await until(lambda: receiver.batches == [[1]])
    waiting = asyncio.create_task(lane.add(2))
    await asyncio.sleep(0)  # it has run to its wait
    waiting.cancel()
    cut.cancel()
    receiver.let_through.set()
    await lane.close()
    assert receiver.batches == [[1], [2]]
