"""A worker's share of the CPU, behind the web processes' when the cores are full.

A web process answers whoever waits on the line: a USSD hop with the aggregator's seconds counting, a provider's
callback, the board's stream to every viewer. A worker's jobs wait in a queue anyway (receipts, the board's
refreshes after a batch, transcoding), and the SMS answers it gives have seconds to spare. When every core is taken,
the kernel shares them by weight, so a worker that is nicer than the web processes gives them the CPU first and takes
what is left: the queue grows a little, and drains once the peak is over (bench/RESULTS.md, "Workers nicer than
the web processes"). With cores to spare, the niceness changes nothing.
"""

from __future__ import annotations

import os


def at_least_as_nice(niceness: int) -> int:
    """Make this process at least `niceness` nice, never less nice than it is (more priority needs privileges, and
    an operator who started it nicer meant it); the niceness it runs at now. Children started after inherit it."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness > current:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    return os.getpriority(os.PRIO_PROCESS, 0)
