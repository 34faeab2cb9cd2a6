"""A process's start imports over a thousand modules, and Python's cyclic collector, run as their objects pile up,
walked the growing heap again and again: a fifth of a worker's start-up CPU (importing the worker's code took 3.05-3.3
s of CPU with it, 2.4-2.55 s without, on one quiet hour). A start that a frozen process's replacement waits for, and
that the test suite pays a hundred times. So the `gateway` program imports its command's code with the collector held,
then collects once, keeps what is left out of later collections (gc.freeze: the code, its tables and settings live as
long as the process, and a full collection walking them is a pause every request feels) and lets it run again."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_held(*, freeze: bool = True) -> Iterator[None]:
    """No collection inside (imports, start-up building); after it, one collection and what survives frozen
    (`freeze=False`: the collector only let run again, for code that a process imports while it serves, and that
    freezes what it built at a moment of its own: the web process's KEEP_BUILT). Within another `collector_held`, or
    where the collector is off, the collector is left as the caller had it. The collector is the process's: a hold is
    for a start's imports, or a bulk import on the event loop's thread, not for work beside other threads'."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        try:
            if freeze:
                gc.collect()
                gc.freeze()
        finally:  # the collector on again whatever ends the hold (an interrupt during the collection)
            gc.enable()
