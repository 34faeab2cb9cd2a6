"""The codes that prove a number: how often one number may ask for them."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from gateway.core.errors import RateLimited
from gateway.kit.phone_proof import new_code

NUMBER = "+237670000201"


def just_before_a_minute_turns() -> float:
    return (time.time() // 60 + 1) * 60 - 0.2


async def test_a_number_waits_a_minute_between_codes_even_across_the_clocks_minute(redis: Redis) -> None:
    turning = just_before_a_minute_turns()
    await new_code(redis, NUMBER, "entry", "41.202.1.1", per_day=10, now=turning)
    with pytest.raises(RateLimited):  # 0.4 s later, in the next clock minute
        await new_code(redis, NUMBER, "entry", "41.202.1.1", per_day=10, now=turning + 0.4)
    # Another purpose's codes, and another number's, are apart.
    await new_code(redis, NUMBER, "payout-account", "41.202.1.1", per_day=10, now=turning + 0.4)
    await new_code(redis, "+237670000202", "entry", "41.202.1.1", per_day=10, now=turning + 0.4)


async def test_a_code_refused_by_another_limit_leaves_the_number_free_to_ask_again(redis: Redis) -> None:
    noon = (time.time() // 86400) * 86400 + 43200  # the day's budget counts by day: all three asks in one
    await new_code(redis, "+237670000203", "entry", "41.202.1.1", per_day=1, scope="contest:1", now=noon)
    with pytest.raises(RateLimited):  # the contest's day is spent: no code went out
        await new_code(redis, NUMBER, "entry", "41.202.1.1", per_day=1, scope="contest:1", now=noon)
    await new_code(redis, NUMBER, "entry", "41.202.1.1", per_day=1, scope="contest:2", now=noon)  # not kept waiting
