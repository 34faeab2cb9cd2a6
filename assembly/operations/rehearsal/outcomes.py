"""What became of each vote the rehearsal offered, matched by its voter's number (each vote has its own) with the
orders and SMS the installation holds once it has settled. Plain data and functions, tested without a server.

A vote is lost only when its voter was told an order was placed (the web API's 201 naming it, USSD's last screen
naming its reference, an SMS answered with a payment prompt) and that order is not there. Counting answers
instead counts wrong both ways: an SMS taken in is answered later (not yet, while a worker is behind), a USSD
refusal ends with `END` as a placed vote does, and a request the client gave up on may still have placed its
order."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from assembly.operations.rehearsal.load import Told, Vote

SAMPLES = 3  # lost votes or disagreeing orders named in a verdict's figures


@dataclass(frozen=True)
class Order:
    """One of the rehearsal's orders as read after it settled (times in epoch seconds)."""

    id: uuid.UUID
    msisdn: str
    status: str
    quantity: int
    on_ledger: int  # the votes its ledger entries count, net (a reversal or a refund takes them off)
    decided_at: float | None
    first_callback: float | None

    @property
    def reference(self) -> str:
        """As the USSD and SMS channels show it to the voter."""
        return self.id.hex[:8].upper()

    @property
    def owed(self) -> int:
        """The votes the ledger must count for it: all while paid, none otherwise (held, flagged, refunded, ...)."""
        return self.quantity if self.status == "paid" else 0


@dataclass(frozen=True)
class SmsAnswer:
    """What the SMS channel made of a message it kept."""

    outcome: str | None  # vote, refused, ...; None: not handled yet
    order_id: uuid.UUID | None
    answered_in: float | None = None  # seconds from its arrival until it was answered (None: not yet)


@dataclass
class Fates:
    told_placed: Counter[str] = field(default_factory=Counter)  # by channel
    found: int = 0  # of those, the order the answer named is there
    lost: list[str] = field(default_factory=list)  # "ussd +237670000001 (told 1A2B3C4D)": told placed, no order
    refused: Counter[str] = field(default_factory=Counter)  # "channel: what it was told", the client's errors too
    unanswered: int = 0  # SMS kept and not answered yet
    gave_up: int = 0  # requests the client gave up on
    placed_anyway: int = 0  # of those, with an order all the same
    doubled: list[str] = field(default_factory=list)  # numbers with more than one order: a vote placed twice


def by_number(orders: Iterable[Order]) -> dict[str, list[Order]]:
    found: dict[str, list[Order]] = {}
    for order in orders:
        found.setdefault(order.msisdn, []).append(order)
    return found


def named(vote: Vote, orders: list[Order], sms: dict[str, SmsAnswer]) -> bool:
    """The order the vote's answer named is among its number's orders."""
    if vote.channel == "sms":
        answer = sms.get(vote.said)
        return answer is not None and any(order.id == answer.order_id for order in orders)
    if vote.channel == "ussd":
        return any(order.reference == vote.said for order in orders)
    return any(str(order.id) == vote.said for order in orders)


def fates(votes: Iterable[Vote], orders: Iterable[Order], sms: dict[str, SmsAnswer]) -> Fates:
    """`sms`: by AT's message id, the SMS the installation kept."""
    numbers = by_number(orders)
    found = Fates(doubled=sorted(number for number, made in numbers.items() if len(made) > 1))
    for vote in votes:
        told, said = vote.told, vote.said
        if told is Told.KEPT:
            answer = sms.get(said)
            if answer is None or answer.outcome is None:
                found.unanswered += 1
                continue
            if answer.outcome != "vote":
                found.refused[f"sms: {answer.outcome}"] += 1
                continue
            told, said = Told.PLACED, str(answer.order_id)
        if told is Told.PLACED:
            found.told_placed[vote.channel] += 1
            if named(vote, numbers.get(vote.msisdn, []), sms):
                found.found += 1
            else:
                found.lost.append(f"{vote.channel} {vote.msisdn} (told {said or 'no order id'})")
        elif told is Told.REFUSED:
            found.refused[f"{vote.channel}: {said}"] += 1
        else:
            found.refused[f"{vote.channel}: {said}"] += 1
            found.gave_up += 1
            found.placed_anyway += vote.msisdn in numbers
    return found


@dataclass(frozen=True)
class Counting:
    """The rehearsal's orders against the ledger, and the tallies against the ledger, read in one snapshot."""

    paid_orders: int
    paid: int  # their votes
    on_ledger: int  # the votes the ledger counts for the rehearsal's orders, net
    not_paid: Counter[str]  # the other orders by status: their votes must not be on the ledger
    disagreeing: list[str]  # orders whose votes on the ledger are not what their status owes
    tallies_moved: int  # how far the contest's tallies moved since the rehearsal began
    ledger_moved: int  # the votes of the contest's ledger entries appended since it began (other orders' too)


def counting(orders: Iterable[Order], tallies_moved: int, ledger_moved: int) -> Counting:
    orders = list(orders)
    paid = [order for order in orders if order.status == "paid"]
    off = [order for order in orders if order.on_ledger != order.owed]
    return Counting(
        paid_orders=len(paid), paid=sum(order.quantity for order in paid),
        on_ledger=sum(order.on_ledger for order in orders),
        not_paid=Counter(order.status for order in orders if order.status != "paid"),
        disagreeing=[f"{order.id} is {order.status} with {order.quantity} votes, the ledger counts {order.on_ledger}"
                     for order in off[:SAMPLES]] + ([f"{len(off) - SAMPLES} more"] if len(off) > SAMPLES else []),
        tallies_moved=tallies_moved, ledger_moved=ledger_moved)
