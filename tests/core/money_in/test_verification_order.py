"""The order callback-counted orders are verified in at show scale, as plain logic: the most money at risk first,
a random sample next, the rest oldest first, and one claim in ten the oldest whatever the ranks."""

from __future__ import annotations

import uuid

from gateway.core.money_in.verification.priority import (
    LARGE_ORDER_VOTES,
    ORDINARY,
    SAMPLE_PER_MILLE,
    SAMPLED,
    SUSPECT_FLOOR,
    ClaimTurns,
    OriginCounts,
    QueuedOrder,
    Signal,
    origin_of,
    priority,
    ranked,
    signals,
)

MTN_AGENT = {"user-agent": "MTN-Callback/1.0", "x-forwarded-for": "196.12.0.9, 10.0.0.1"}


def ordinary(amount: int = 100, quantity: int = 1, **facts: object) -> QueuedOrder:
    """A returning payer's order with no signal, its id chosen outside the random sample."""
    order_id = next(candidate for candidate in iter(uuid.uuid4, None) if candidate.int % 1000 >= SAMPLE_PER_MILLE)
    fields: dict[str, object] = {"paid_before": True, "origin": origin_of(MTN_AGENT)} | facts
    return QueuedOrder(order_id, amount, quantity, **fields)  # type: ignore[arg-type]


def seen_callbacks(count: int = 500) -> OriginCounts:
    origins = OriginCounts()
    for _ in range(count):
        origins.note(origin_of(MTN_AGENT))
    return origins


def test_an_ordinary_returning_payer_has_no_signal_and_waits_its_turn_oldest_first() -> None:
    order = ordinary()
    assert signals(order, seen_callbacks()) == frozenset()
    assert priority(order, frozenset()) == ORDINARY


def test_each_signal_is_found_from_the_orders_facts() -> None:
    origins = seen_callbacks()
    assert signals(ordinary(quantity=LARGE_ORDER_VOTES), origins) == {Signal.LARGE}
    assert signals(ordinary(paid_before=False), origins) == {Signal.NEW_PAYER}
    assert signals(ordinary(troubled_payer=True), origins) == {Signal.TROUBLED_PAYER}
    assert signals(ordinary(held=True), origins) == {Signal.HELD}
    assert signals(ordinary(refused_callbacks=1), origins) == {Signal.UNUSUAL_PATH}
    assert signals(ordinary(origin=origin_of({"user-agent": "curl/8.5.0"})), origins) == {Signal.UNUSUAL_PATH}
    assert signals(ordinary(paid_before=None), origins) == frozenset()  # no number: nothing said of its payer


def test_a_sender_is_not_called_unusual_before_enough_callbacks_were_seen() -> None:
    origins = seen_callbacks(20)  # of the 200 it takes
    assert not origins.unusual(origin_of({"user-agent": "curl/8.5.0"}))
    assert not seen_callbacks().unusual(None)  # nothing kept of its headers: not held against it


def test_suspects_come_first_the_most_money_at_risk_first() -> None:
    origins = seen_callbacks()
    large = ordinary(amount=10_000, quantity=100)
    new_payer = ordinary(amount=500, quantity=5, paid_before=False)
    troubled_small = ordinary(amount=100, troubled_payer=True)
    rest = ordinary(amount=5_000, quantity=LARGE_ORDER_VOTES - 1)  # big, but under the line and with no signal
    ranks = ranked([rest, troubled_small, new_payer, large], origins)
    assert sorted(ranks, key=ranks.__getitem__, reverse=True) == [
        large.order_id, new_payer.order_id, troubled_small.order_id, rest.order_id]
    assert ranks[large.order_id] == SUSPECT_FLOOR + 10_000
    assert ranks[new_payer.order_id] == SUSPECT_FLOOR + 500 * 3  # amount × (1 + new payer's weight)
    assert min(ranks[o.order_id] for o in (large, new_payer, troubled_small)) > SAMPLED > ranks[rest.order_id]


def test_signals_add_up_and_a_huge_amount_still_fits_a_bigint() -> None:
    both = ordinary(amount=100, paid_before=False, troubled_payer=True)
    assert priority(both, signals(both, seen_callbacks())) == SUSPECT_FLOOR + 100 * (1 + 2 + 8)
    huge = ordinary(amount=2**70, quantity=LARGE_ORDER_VOTES)
    assert priority(huge, frozenset({Signal.LARGE})) < 2**63


def test_the_sample_is_about_its_share_of_ordinary_orders_and_ranks_between_suspects_and_the_rest() -> None:
    ids = [uuid.uuid4() for _ in range(40_000)]
    ranks = [priority(QueuedOrder(order_id, 100, 1, paid_before=True), frozenset()) for order_id in ids]
    share = ranks.count(SAMPLED) / len(ranks)
    assert abs(share - SAMPLE_PER_MILLE / 1000) < 0.002
    assert set(ranks) == {ORDINARY, SAMPLED}


def test_a_batch_is_judged_with_its_own_senders() -> None:
    origins = OriginCounts(judge_after=100)
    crowd = [ordinary() for _ in range(300)]
    odd = ordinary(origin=origin_of({"user-agent": "python-requests/2.31", "x-forwarded-for": "45.9.1.1"}))
    ranks = ranked([*crowd, odd], origins)
    assert ranks[odd.order_id] > SAMPLED
    assert all(ranks[order.order_id] <= SAMPLED for order in crowd)


def test_one_claim_in_ten_takes_the_oldest_so_no_entry_waits_for_ever() -> None:
    turns = ClaimTurns()
    claims = [turns.oldest_first() for _ in range(100)]
    assert claims.count(True) == 10 and claims[9] and not any(claims[:9])
    every = ClaimTurns(every=1)  # the queue read oldest first only, as before it was ranked
    assert all(every.oldest_first() for _ in range(5))


def test_origin_of_reads_the_user_agent_and_the_first_forwarded_address() -> None:
    assert origin_of(MTN_AGENT) == "MTN-Callback/1.0|196.12.0.9"
    assert origin_of({}) is None
