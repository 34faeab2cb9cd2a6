"""The failover bench's check of its history against the final database (bench/faults/cluster/history.py): which
votes it calls lost, doubled or refused-yet-counted, and how it reads when votes were taken again and frames resumed.
Plain functions: no server."""

from __future__ import annotations

import uuid

from assembly.operations.rehearsal.load import Told, Vote
from assembly.operations.rehearsal.outcomes import Order, SmsAnswer
from bench.faults.cluster.history import Asked, check, frames_resumed, not_counted, taken_again


def order(number: str, status: str = "paid", quantity: int = 1, on_ledger: int | None = None) -> Order:
    counted = (quantity if status == "paid" else 0) if on_ledger is None else on_ledger
    return Order(uuid.uuid4(), number, status, quantity, counted, None, None)


def web(number: str, told: Told, said: str, at: float = 0.0) -> Asked:
    return Asked(Vote("web", number, told, said), at, at + 0.1)


def test_an_acknowledged_vote_without_its_order_is_lost() -> None:
    kept = order("+237670000001")
    history = [web("+237670000001", Told.PLACED, str(kept.id)), web("+237670000002", Told.PLACED, str(uuid.uuid4()))]

    verdict = check(history, [kept], {}, charged=set())

    assert verdict.acknowledged == 2 and verdict.counted == 1
    assert len(verdict.lost) == 1 and "+237670000002" in verdict.lost[0]
    assert not verdict.sound


def test_an_acknowledged_order_not_counted_is_lost_only_when_the_provider_took_the_money() -> None:
    charged, never_prompted = order("+237670000001", "expired"), order("+237670000002", "expired")
    history = [web(o.msisdn or "", Told.PLACED, str(o.id)) for o in (charged, never_prompted)]

    assert not_counted(history, [charged, never_prompted], {}) == [charged, never_prompted]
    verdict = check(history, [charged, never_prompted], {}, charged={str(charged.id)})

    assert [entry.split(":")[0] for entry in verdict.lost] == ["web +237670000001"]
    assert verdict.charged == 1 and verdict.counted == 0


def test_counted_twice_is_doubled_by_its_ledger_or_by_a_second_order_of_the_same_vote() -> None:
    twice = order("+237670000001", quantity=2, on_ledger=4)
    first, again = order("+237670000002"), order("+237670000002")
    history = [web("+237670000001", Told.PLACED, str(twice.id)), web("+237670000002", Told.PLACED, str(first.id))]

    verdict = check(history, [twice, first, again], {}, charged=set())

    assert len(verdict.doubled) == 2
    assert "4 votes counted for 2" in verdict.doubled[0] and "+237670000002: 2 orders" in verdict.doubled[1]


def test_a_vote_told_refused_must_not_be_counted_but_one_unanswered_may_be() -> None:
    refused, unanswered = order("+237670000001"), order("+237670000002")
    history = [web("+237670000001", Told.REFUSED, "HTTP 503"), web("+237670000002", Told.NO_ANSWER, "TimeoutError")]

    verdict = check(history, [refused, unanswered], {}, charged=set())

    assert verdict.refused_counted == ["web +237670000001 (told HTTP 503)"]
    assert verdict.no_answer == 1 and verdict.no_answer_counted == 1
    assert verdict.sound  # refused-yet-counted is shown, not a loss or a double


def test_an_sms_is_acknowledged_once_answered_with_its_order() -> None:
    paid = order("+237670000001")
    history = [Asked(Vote("sms", "+237670000001", Told.KEPT, "AT-1"), 0, 0.1),
               Asked(Vote("sms", "+237670000002", Told.KEPT, "AT-2"), 0, 0.1)]
    answers = {"AT-1": SmsAnswer("vote", paid.id), "AT-2": SmsAnswer(None, None)}

    verdict = check(history, [paid], answers, charged=set())

    assert verdict.acknowledged == 1 and verdict.counted == 1 and verdict.sms_unanswered == 1


def test_votes_are_taken_again_after_the_last_second_most_were_not() -> None:
    history = [web(f"+23767{i:07d}", Told.PLACED if not 3 <= i < 7 else Told.NO_ANSWER, "x", at=100 + i)
               for i in range(12)]

    assert taken_again(history, since=100, until=112) == 7.0
    assert taken_again(history, since=107, until=112) == 0.0
    assert taken_again(history, since=100, until=106) is None  # still refusing when the window ends


def test_frames_resume_at_the_end_of_the_longest_silence_of_the_slowest_viewer() -> None:
    steady = [100 + i * 0.25 for i in range(80)]
    stalled = [100.0, 100.5, 101.0, 109.0, 109.5, 110.0]

    assert frames_resumed([steady, stalled], since=100.8, until=115) == 109.0 - 100.8
    assert frames_resumed([steady, [99.0]], since=100.8, until=115) is None


def test_a_paid_order_a_fraud_rule_holds_for_a_person_is_not_lost() -> None:
    held = order("+237670000001", "held")
    history = [web("+237670000001", Told.PLACED, str(held.id))]

    verdict = check(history, [held], {}, charged={str(held.id)})

    assert verdict.sound and verdict.for_a_person == {"held": 1}
    assert not_counted(history, [held], {}) == []
