"""Which callback-counted order is verified next, when the provider's cap cannot verify them as fast as they come.

A vote counted on a callback's word (MTN's per-order URL secret, Orange's notif_token) is verified by one status
call each, and the calls are capped (MTN: 10 a second per account, of which the web processes and the reconciler
use 90%). A show of an hour at 200 votes a second counts 720,000 orders; the cap verifies ~32,000 of them in that
hour. What is verified first therefore decides how much of the money at risk is checked while it still matters
(before the results are announced, before payouts), and how soon a forger is found. So the queue is not read
oldest first: each status call goes where it checks the most money at risk, which is an order's amount times how
likely it is to be forged.

1. **Suspect orders first** (`Signal`), the most money at risk first (`priority`: amount × (1 + the weights of
   its signals)): a large order (`LARGE_ORDER_VOTES` votes or more: most money per call); a new payer (no
   earlier paid order from that number: nothing vouches for it yet); a payer whose number has an order held or
   flagged (a fraud rule's hold, an earlier disagreement); an order held by a fraud rule itself; an order whose
   callback came by an unusual path (a refused callback on its URL, someone trying secrets; or a sender, its
   user agent and first forwarded address, seen on under `RARE_ORIGIN_SHARE` of the provider's callbacks, once
   `ORIGINS_BEFORE_JUDGING` have been seen: the provider calls from a few places, a forger from elsewhere).
2. **Then a random sample** (`SAMPLE_PER_MILLE`, chosen by the order's random id): the disagreement rate of
   ordinary orders is learnt early from orders nobody chose, not from the suspects (whose rate is not the
   crowd's), and a forger who avoids every signal is still met early at that rate.
3. **Then the rest, oldest first**: the longest waiting have been counted longest.

Two guarantees are kept whatever the ranks say. Every counted order is verified eventually: one claim in
`OLDEST_EVERY` ignores the ranks and takes the oldest due entry (`ClaimTurns`), so an unbroken stream of suspects
never holds an ordinary order back for ever, and an entry not ranked yet (the ranking pass is behind or down) is
still claimed, after the ranked ones and oldest first. None is verified twice at once: ranking only orders the
claim, which still locks one entry and leases it (`gateway.core.money_in.verification.by_status`). The cap is the status
pacing's (`gateway.kit.status_pacing`), untouched: ranking spends no status call.

The ranking itself is this module, plain logic with no I/O: the ranking pass
(`gateway.core.money_in.verification.ranking`) reads each due entry's facts (`QueuedOrder`), asks `priority`, and
writes it on the entry, where the claim's index reads it. An organiser who needs more verified sooner raises the
cap: ask the provider for a higher one and set it (`MTN_MOMO_STATUS_CALLS_PER_SECOND`; Orange's is
`ORANGE_MONEY_REQUESTS_PER_SECOND`); docs/how-a-vote-is-counted.md, "Verifying at show scale", has the measured
shares at 10, 50 and 100.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

LARGE_ORDER_VOTES = 50  # an order of this many votes or more is large: the most money a status call can check
SAMPLE_PER_MILLE = 5  # of the orders with no signal, verified before the rest (0.5%: 1 a second at 200 votes/s)
OLDEST_EVERY = 10  # one claim in this many takes the oldest due entry, whatever its rank
RARE_ORIGIN_SHARE = 0.01  # a callback sender seen on fewer than this share of a provider's callbacks is unusual
ORIGINS_BEFORE_JUDGING = 200  # callbacks seen before any sender is called unusual (few tell nothing)

# Rank bands: a suspect's rank is SUSPECT_FLOOR plus its money at risk; the sample's is SAMPLED; the rest's ORDINARY.
ORDINARY = 0
SAMPLED = 1
SUSPECT_FLOOR = 2
MOST_AT_RISK = 2**62 - SUSPECT_FLOOR  # money at risk beyond this ranks as this (a bigint holds the rank)


class Signal(StrEnum):
    """Why an order is more likely than the crowd's to have been counted on a forged callback, and its weight."""

    LARGE = "large"
    NEW_PAYER = "new_payer"
    TROUBLED_PAYER = "troubled_payer"
    HELD = "held"
    UNUSUAL_PATH = "unusual_path"

    @property
    def weight(self) -> int:
        """How many times the crowd's likelihood of a forgery this signal adds (a large order's amount is its
        weight: the signal itself adds none)."""
        return SIGNAL_WEIGHTS[self]


# How much likelier than an ordinary order's a forgery is, each signal's own: judged, not measured (no show has yet
# had enough forgeries to measure them); `bench.verification` shows what they find, and when.
SIGNAL_WEIGHTS: Mapping[Signal, int] = {
    Signal.LARGE: 0,
    Signal.NEW_PAYER: 2,  # a forger's number is seldom one that paid before; but a show's crowd is full of new ones
    Signal.HELD: 4,  # a fraud rule fired on it
    Signal.TROUBLED_PAYER: 8,  # the number has an order held or flagged: a known problem
    # The callback did not come the way the provider's do (a secret tried on its URL, a sender MTN's callbacks never
    # use): hardly ever an honest payment's, so even a one-vote order outranks a large ordinary one.
    Signal.UNUSUAL_PATH: 100,
}


@dataclass(frozen=True)
class QueuedOrder:
    """What the ranking knows of a callback-counted order waiting for its status call."""

    order_id: uuid.UUID
    amount: int  # minor units: compared as they are (an installation's contests mostly share a currency)
    quantity: int
    held: bool = False  # held by a fraud rule, or scored by one at placement
    paid_before: bool | None = None  # an earlier paid order from its number (None: no number known)
    troubled_payer: bool = False  # its number has another order held or flagged
    origin: str | None = None  # who sent the callback that counted it (`origin_of`); None: not kept
    refused_callbacks: int = 0  # callbacks on its URL refused (a wrong or missing secret)


def origin_of(headers: Mapping[str, str]) -> str | None:
    """The sender of a kept callback, as far as its kept headers tell: its user agent and the first address it
    was forwarded for (None: neither was kept)."""
    agent = headers.get("user-agent", "").strip()
    forwarded = headers.get("x-forwarded-for", "").split(",")[0].strip()
    return f"{agent}|{forwarded}" if agent or forwarded else None


class OriginCounts:
    """How often each sender was seen on a provider's callbacks, to tell an unusual one."""

    def __init__(self, rare_share: float = RARE_ORIGIN_SHARE, judge_after: int = ORIGINS_BEFORE_JUDGING) -> None:
        self._seen: Counter[str] = Counter()
        self._rare_share = rare_share
        self._judge_after = judge_after

    def note(self, origin: str | None) -> None:
        if origin is not None:
            self._seen[origin] += 1

    def unusual(self, origin: str | None) -> bool:
        total = self._seen.total()
        if origin is None or total < self._judge_after:
            return False
        return self._seen[origin] < self._rare_share * total


def signals(order: QueuedOrder, origins: OriginCounts) -> frozenset[Signal]:
    """The order's signals, its sender judged against the senders seen so far."""
    found = set()
    if order.quantity >= LARGE_ORDER_VOTES:
        found.add(Signal.LARGE)
    if order.paid_before is False:
        found.add(Signal.NEW_PAYER)
    if order.troubled_payer:
        found.add(Signal.TROUBLED_PAYER)
    if order.held:
        found.add(Signal.HELD)
    if order.refused_callbacks > 0 or origins.unusual(order.origin):
        found.add(Signal.UNUSUAL_PATH)
    return frozenset(found)


def sampled(order_id: uuid.UUID) -> bool:
    """In the random sample: orders' ids are random (uuid4), so their last digits choose fairly."""
    return order_id.int % 1000 < SAMPLE_PER_MILLE


def priority(order: QueuedOrder, found: frozenset[Signal]) -> int:
    """The order's rank in the queue, the highest verified first (oldest first among equals)."""
    if found:
        at_risk = order.amount * (1 + sum(signal.weight for signal in found))
        return SUSPECT_FLOOR + min(at_risk, MOST_AT_RISK)
    return SAMPLED if sampled(order.order_id) else ORDINARY


def ranked(orders: list[QueuedOrder], origins: OriginCounts) -> dict[uuid.UUID, int]:
    """Each order's rank; their senders are noted first, so a batch is judged with itself."""
    for order in orders:
        origins.note(order.origin)
    return {order.order_id: priority(order, signals(order, origins)) for order in orders}


class ClaimTurns:
    """Whether the next claim follows the ranks or takes the oldest due entry (one in `every`)."""

    def __init__(self, every: int = OLDEST_EVERY) -> None:
        self._every = every
        self._claims = 0

    def oldest_first(self) -> bool:
        self._claims += 1
        return self._every <= 1 or self._claims % self._every == 0
