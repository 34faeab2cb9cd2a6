"""Who may fetch an upload's files, as the media server asks the database at every request
(`gateway.core.media.uploads.access_to`): one lookup in flight per upload, a bounded wait for it, and no file
served on a guess when the database does not answer.

A clip's ranges come in dozens, from many viewers at once: the requests for one upload that come while its lookup
is under way await that lookup's answer (a takedown holds from the first lookup begun after its commit), so a
popular clip costs the database one statement at a time, not one per range. A request waits ACCESS_SECONDS at
most: a database failing over, or a network that split, answers nobody, and a phone is told 503 with Retry-After
rather than held until the pool gives up. The lookup itself is never cancelled (a PostgreSQL connection cancelled
while it is opened or used can be left neither closed nor back in the pool, asyncpg#1156): the media server's
engine has time limits of the same length on connecting and on each statement, which end it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from gateway.core.media.uploads import Access
from gateway.kit.time_limits import answer_within

log = logging.getLogger(__name__)
# How long a request for a file waits for the database's word on it (and the media server's engine for a
# connection or a statement): the database answers in milliseconds, so only an outage reaches it.
ACCESS_SECONDS = 5.0
RETRY_AFTER_SECONDS = 5  # what a refused phone or proxy is told to wait before asking again


class AccessUnknown(Exception):
    """The database did not say in time who may fetch a file (or failed to): nothing is served on a guess."""


class AccessLookups:
    """`ask` (who may fetch an upload's files now) with one call in flight per upload, each caller waiting
    `seconds` at most for its answer (AccessUnknown past that, or when the lookup failed)."""

    def __init__(self, ask: Callable[[str], Coroutine[Any, Any, Access]], seconds: float = ACCESS_SECONDS) -> None:
        self.ask, self.seconds = ask, seconds
        self.in_flight: dict[str, asyncio.Task[Access]] = {}

    async def __call__(self, upload_id: str) -> Access:
        lookup = self.in_flight.get(upload_id)
        if lookup is None:
            lookup = asyncio.create_task(self.ask(upload_id))
            self.in_flight[upload_id] = lookup
            lookup.add_done_callback(partial(self.ended, upload_id))
        try:  # shielded: a caller that gives up (or goes away) leaves the lookup to the others and to its end
            return await answer_within(self.seconds, asyncio.shield(lookup))
        except TimeoutError:
            raise AccessUnknown(f"the database did not answer within {self.seconds:g} s") from None
        except Exception as exc:
            raise AccessUnknown(f"the database could not be asked: {exc!r}") from exc

    def ended(self, upload_id: str, lookup: asyncio.Task[Access]) -> None:
        if self.in_flight.get(upload_id) is lookup:
            del self.in_flight[upload_id]
        if not lookup.cancelled() and (failure := lookup.exception()) is not None:  # once, whoever waited for it
            log.warning("who may fetch upload %s is unknown (its files refused meanwhile): %r", upload_id, failure)

    async def close(self) -> None:
        """At the server's end: the lookups under way are of no more use."""
        lookups = list(self.in_flight.values())
        for lookup in lookups:
            lookup.cancel()
        await asyncio.gather(*lookups, return_exceptions=True)
