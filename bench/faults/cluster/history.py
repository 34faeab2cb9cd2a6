"""The run's history checked against the final database, Jepsen's way: what each client was told, and when, set
beside what the database holds once the cluster settled. Plain data and functions, tested without a server
(tests/test_cluster_history.py).

A vote is acknowledged when its voter was told an order was placed: the web API's 201 naming the order, USSD's
last screen naming its reference, or an SMS answered with a payment prompt for an order. Acknowledged and paid (the
provider took the money: its own word, asked after the run) it must be counted exactly once: "lost" when it is
not, whatever else happened. An order counted more than once, or a voter's number with two counted orders (each vote
has a number of its own), is "doubled". A voter told the vote was refused must not find it counted. A request the
client gave up on (no answer) may have placed its order or not: neither is a fault, both are shown.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from assembly.operations.rehearsal.load import Told, Vote
from assembly.operations.rehearsal.outcomes import Order, SmsAnswer, by_number, named

SAMPLES = 3  # votes named in a finding, beside its count
# Paid orders a rule keeps out of the tally on purpose, until a person decides (gateway/db/models/orders.py): not lost.
FOR_A_PERSON = ("held", "flagged", "refund_requested", "refunded")


@dataclass(frozen=True)
class Asked:
    """One vote offered: what its voter was told, when it was asked (epoch seconds) and when the answer came."""

    vote: Vote
    asked_at: float
    answered_at: float

    @property
    def taken(self) -> bool:
        """Told placed, or (an SMS) kept to be answered later: the service took the vote in."""
        return self.vote.told in (Told.PLACED, Told.KEPT)


@dataclass
class Verdict:
    acknowledged: int = 0  # told placed (or an SMS answered with its order)
    charged: int = 0  # of those, paid by the provider (its word)
    counted: int = 0  # acknowledged and counted once
    lost: list[str] = field(default_factory=list)  # acknowledged and paid, not counted (or no order at all)
    doubled: list[str] = field(default_factory=list)  # counted more than once
    refused_counted: list[str] = field(default_factory=list)  # told refused, counted all the same
    refused_counted_by: Counter[str] = field(default_factory=Counter)  # the same by channel and answer
    unsettled: list[str] = field(default_factory=list)  # acknowledged orders still pending
    for_a_person: Counter[str] = field(default_factory=Counter)  # paid, kept out of the tally by a rule: by status
    no_answer: int = 0
    no_answer_counted: int = 0  # of those, counted all the same (allowed: the client gave up, not the server)
    sms_unanswered: int = 0  # SMS kept, never answered (the worker never got to them)

    @property
    def sound(self) -> bool:
        return not self.lost and not self.doubled


def sms_order(vote: Vote, sms: dict[str, SmsAnswer]) -> SmsAnswer | None:
    answer = sms.get(vote.said)
    return answer if answer is not None and answer.outcome is not None else None


def acknowledged(vote: Vote, sms: dict[str, SmsAnswer]) -> bool:
    if vote.told is Told.PLACED:
        return True
    answer = sms_order(vote, sms) if vote.told is Told.KEPT else None
    return answer is not None and answer.outcome == "vote" and answer.order_id is not None


def counted(order: Order) -> bool:
    return order.status == "paid" and order.on_ledger == order.quantity


def check(history: Iterable[Asked], orders: Iterable[Order], sms: dict[str, SmsAnswer],
          charged: set[str]) -> Verdict:
    """`charged`: the ids of the orders the provider says it took the money for (asked for every acknowledged order
    not counted; a counted order's payment is its callback's or its status check's word)."""
    numbers = by_number(orders)
    verdict = Verdict()
    for order in (order for made in numbers.values() for order in made):
        if order.on_ledger > order.quantity:
            verdict.doubled.append(f"order {order.id}: {order.on_ledger} votes counted for {order.quantity}")
    for number, made in numbers.items():
        if sum(1 for order in made if counted(order)) > 1:
            verdict.doubled.append(f"{number}: {sum(1 for order in made if counted(order))} orders counted")
    for asked in history:
        vote, mine = asked.vote, numbers.get(asked.vote.msisdn, [])
        if acknowledged(vote, sms):
            verdict.acknowledged += 1
            judge_acknowledged(verdict, vote, mine, sms, charged)
        elif vote.told is Told.KEPT and sms_order(vote, sms) is None:
            verdict.sms_unanswered += 1
        elif vote.told is Told.NO_ANSWER:
            verdict.no_answer += 1
            verdict.no_answer_counted += any(counted(order) for order in mine)
        elif any(counted(order) for order in mine):  # refused, by its answer or by the SMS it got
            verdict.refused_counted.append(f"{vote.channel} {vote.msisdn} (told {vote.said})")
            verdict.refused_counted_by[f"{vote.channel}: {vote.said}"] += 1
    return verdict


def judge_acknowledged(verdict: Verdict, vote: Vote, mine: list[Order], sms: dict[str, SmsAnswer],
                       charged: set[str]) -> None:
    if not named(vote, mine, sms):
        verdict.lost.append(f"{vote.channel} {vote.msisdn}: told {vote.said or 'placed'}, no such order")
        return
    order = next(order for order in mine if named(vote, [order], sms))
    if counted(order):
        verdict.counted += 1
        verdict.charged += 1
    elif order.status in FOR_A_PERSON:  # the money is accounted for: a person decides (a fraud hold, a refund)
        verdict.for_a_person[order.status] += 1
    elif order.status == "pending":  # not decided yet when read: neither counted nor lost
        paid = " (the provider says paid)" if str(order.id) in charged else ""
        verdict.unsettled.append(f"{vote.channel} {vote.msisdn}: order {order.id} still pending{paid}")
    elif str(order.id) in charged:
        verdict.charged += 1
        verdict.lost.append(f"{vote.channel} {vote.msisdn}: paid, order {order.id} {order.status} with "
                            f"{order.on_ledger} of {order.quantity} votes counted")


def not_counted(history: Iterable[Asked], orders: Iterable[Order], sms: dict[str, SmsAnswer]) -> list[Order]:
    """The acknowledged votes' orders that are not counted: those the provider must be asked about."""
    numbers = by_number(orders)
    found = []
    for asked in history:
        mine = numbers.get(asked.vote.msisdn, [])
        if acknowledged(asked.vote, sms):
            found += [order for order in mine if named(asked.vote, [order], sms) and not counted(order)
                      and order.status not in FOR_A_PERSON]
    return found


def taken_again(history: Sequence[Asked], since: float, until: float, width: float = 1.0,
                good: float = 0.9) -> float | None:
    """Seconds from `since` until votes are taken again: the end of the last window (`width` seconds, by when the
    votes were asked) before `until` in which less than `good` of the votes asked were taken; 0 when none was.
    None when the last window is bad: not taken again by `until`."""
    windows: dict[int, list[bool]] = {}
    for asked in history:
        if since <= asked.asked_at < until:
            windows.setdefault(int((asked.asked_at - since) // width), []).append(asked.taken)
    bad = [n for n, taken in windows.items() if sum(taken) < good * len(taken)]
    if not bad:
        return 0.0
    if max(bad) == max(windows):
        return None
    return (max(bad) + 1) * width


def frames_resumed(arrivals: Sequence[Sequence[float]], since: float, until: float) -> float | None:
    """Seconds from `since` until the board's frames resumed for every viewer: for each, the end of its longest
    silence (between two frames, or from `since`) that overlaps [since, until]; the latest over the viewers. None
    when a viewer got no frame after `since` at all."""
    latest = 0.0
    for frames in arrivals:
        after = sorted(at for at in frames if at > since)
        if not after:
            return None
        before = [at for at in frames if at <= since]
        edges = [max(before, default=since), *after]
        gaps = [(b - max(a, since), -b) for a, b in zip(edges, edges[1:], strict=False) if a < until]
        if gaps:  # the longest, the earliest of equals (a steady stream's first frame after `since`)
            latest = max(latest, -max(gaps)[1] - since)
    return latest


def waits(history: Iterable[Asked], since: float, until: float) -> str:
    """How long the votes asked in [since, until) waited for their answer: median and longest."""
    found = [asked.answered_at - asked.asked_at for asked in history if since <= asked.asked_at < until]
    if not found:
        return "none asked"
    return f"median {statistics.median(found):.1f} s, longest {max(found):.1f} s"


def told_between(history: Iterable[Asked], since: float, until: float) -> dict[str, int]:
    """What the votes asked in [since, until) were told, by kind."""
    found: dict[str, int] = {}
    for asked in history:
        if since <= asked.asked_at < until:
            found[asked.vote.told.value] = found.get(asked.vote.told.value, 0) + 1
    return found


def samples(found: list[str]) -> str:
    return f"{len(found)}" + (f" ({'; '.join(found[:SAMPLES])}{', ...' if len(found) > SAMPLES else ''})"
                              if found else "")
