"""When an open loop's votes are due: a rate a second for so many seconds, as a show's crowd arrives whatever the
answers' pace. The rehearsal offers its votes by it, and so do the benchmarks' open loops."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator

LATE_SENDING_SECONDS = 0.1  # a voter this late against its schedule is named: the rate offered came in bursts


async def on_schedule(rate: float, seconds: float) -> AsyncGenerator[float, None]:
    """Each moment a vote is due, `rate` a second for `seconds`, as how late it is (seconds). The schedule, not the
    machine's pace, says how many: a vote whose time came while this process was held up is yielded late, never not
    at all, or a busy machine would offer fewer votes than its plan, and its figures would be of a smaller load than
    the one they name (and hide the overload a late burst shows)."""
    started = time.monotonic()
    # Counted, not compared against `seconds` vote by vote: 3 a second for 1.9 s is 6, and a rate that is not quite
    # a float's 0.3 (0.30000000000000004) still offers 18 votes in 60 s, not 19.
    for due in range(math.ceil(rate * seconds - 1e-9)):
        at = started + due / rate
        if (wait := at - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        yield max(0.0, time.monotonic() - at)  # read after the sleep: a process held up in it is late too
