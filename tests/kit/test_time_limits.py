"""A wait with a time limit never swallows a stop: a background loop stopped as its answer arrives stops."""

from __future__ import annotations

import asyncio

import pytest

from gateway.kit.time_limits import answer_within


async def test_a_loop_stopped_in_the_turn_its_answer_arrives_stops() -> None:
    """The fan-out's lease loop hung a web process's shutdown this way (asyncio.wait_for on Python 3.11): the stop
    was lost, the loop went round again, and the shutdown waited on it for ever."""
    answers: asyncio.Queue[asyncio.Future[int]] = asyncio.Queue()
    rounds = 0

    async def loop_with_a_limit() -> None:
        nonlocal rounds
        while True:
            answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            answers.put_nowait(answer)
            await answer_within(5, answer)
            rounds += 1

    task = asyncio.create_task(loop_with_a_limit())
    answer = await answers.get()
    answer.set_result(1)  # the answer arrives ...
    task.cancel()  # ... and the stop, in the same turn of the loop
    done, _ = await asyncio.wait([task], timeout=2)
    assert done == {task} and task.cancelled(), "the stop was swallowed: the loop went round again"
    assert rounds == 0


async def test_an_answer_too_late_is_a_timeout_and_one_in_time_is_returned() -> None:
    never: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        await answer_within(0.05, never)
    assert await answer_within(5, asyncio.sleep(0, result=7)) == 7
