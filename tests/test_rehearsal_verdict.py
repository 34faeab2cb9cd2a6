"""The rehearsal's go / no-go, from figures alone (no server): what an organiser is told before a show."""

from __future__ import annotations

import uuid
from collections import Counter

from assembly.operations.rehearsal.load import Told, Vote, msisdn
from assembly.operations.rehearsal.outcomes import Fates, Order, SmsAnswer, counting, fates
from assembly.operations.rehearsal.run import frame_delays, frame_legs
from assembly.operations.rehearsal.verdict import LedgerFinding, Observed, go, judge, report


def paid(n: int) -> list[Order]:
    return [Order(uuid.uuid4(), msisdn(i), "paid", 1, 1, 10.0, 9.9) for i in range(n)]


def healthy() -> Observed:
    return Observed(offered=300, fates=Fates(told_placed=Counter(web=100, ussd=100, sms=100), found=300),
                    waited=3, counting=counting(paid(300), tallies_moved=300, ledger_moved=300),
                    ledger=LedgerFinding(310, "ab" * 32, ()), to_tally=[0.2] * 300, to_frame=[0.3] * 300, frames=40,
                    to_answer=[0.4] * 100)


def test_a_rehearsal_within_every_slo_is_a_go_with_its_figures() -> None:
    checks = judge(healthy())
    assert go(checks)
    text = report(checks)
    assert text.endswith("verdict: GO")
    assert "100.00% within 2 s" in text and "p99 200 ms" in text
    assert "300 paid orders, 300 votes; the ledger counts 300 for the rehearsal's orders" in text
    assert "tallies moved by 300, the ledger's entries since the start by 300" in text
    assert "GO     every vote told it was placed has its order: 300 of 300 (sms 100, ussd 100, web 100)" in text
    assert "GO     the ledger verifies (gateway ledger verify): ok, 310 entries, head abababab" in text


def test_more_than_one_vote_in_a_hundred_late_to_the_tally_is_a_no_go() -> None:
    observed = healthy()
    observed.to_tally = [0.2] * 297 + [2.5] * 3  # 99% exactly: still a go
    assert go(judge(observed))
    observed.to_tally = [0.2] * 296 + [2.5] * 4
    checks = judge(observed)
    assert not go(checks)
    assert "NO-GO  votes counted within 2 s" in report(checks) and "(4 later" in report(checks)


def test_slow_board_frames_are_a_no_go() -> None:
    observed = healthy()
    observed.to_frame = [1.5] * 300
    assert [check.go for check in judge(observed)] == [True, False, True, True, True, True, True, True]


def test_sms_answered_minutes_after_they_came_are_a_no_go_though_every_count_was_in_time() -> None:
    """A backlog of the worker's: each voter waited minutes for the payment prompt, and once paid was counted at
    once; the counts alone said GO."""
    observed = healthy()
    observed.to_answer = [0.4] * 98 + [190.0] * 2
    checks = judge(observed)
    assert not go(checks)
    assert ("NO-GO  SMS answered within 5 s of arrival: 98.00% within 5 s (2 later; objective 99%); p50 400 ms, "
            "p99 190000 ms") in report(checks)
    assert [check.go for check in checks] == [True, True, False, True, True, True, True, True]
    observed.to_answer = None  # no SMS offered (the channel skipped): nothing to judge
    assert go(judge(observed)) and "SMS answered" not in report(judge(observed))


def test_refusals_over_one_percent_are_a_no_go_and_named() -> None:
    observed = healthy()
    observed.offered, observed.fates.refused = 310, Counter({"web: HTTP 429": 10})
    checks = judge(observed)
    assert not go(checks)
    assert "web: HTTP 429 x10" in report(checks)


def test_missing_figures_are_a_no_go() -> None:
    checks = judge(Observed())
    assert not go(checks) and not any(check.go for check in checks)
    assert report(checks).count("missing data is a no-go") == 7
    no_frames = healthy()
    no_frames.to_frame, no_frames.frames = [], 0
    assert not go(judge(no_frames))


def test_a_votes_frame_delay_is_to_the_first_frame_a_viewer_received_showing_it() -> None:
    # (received, board updated_at): the frame built at 10.5 arrived after the one built at 11.0
    viewer = [(10.2, 10.1), (11.4, 10.5), (11.1, 11.0), (12.5, 12.0)]
    delays = frame_delays([10.05, 10.3, 10.9, 11.5, 13.0], [viewer, []])
    assert [round(d, 3) for d in delays] == [0.15, 0.8, 0.2, 1.0]  # the vote at 13.0: no frame shows it yet


def test_a_late_frame_says_whether_the_boards_read_or_its_way_out_was_late() -> None:
    """Read late (the relay behind) or read in time and late to arrive (the stream, the fan-out server, the network):
    the figures tell the two apart, and the verdict judges only the whole."""
    # (received, board updated_at) for a vote counted at 10.0: the board read at 10.1 held it first
    only_a_later_read = [(12.1, 12.0)]
    the_first_read_late = [(11.9, 10.1)]
    reads, to_viewer = frame_legs([10.0], [only_a_later_read, the_first_read_late])
    assert [round(d, 3) for d in reads] == [0.1]  # the first read holding it, whichever viewer got it
    assert [round(d, 3) for d in to_viewer] == [2.0, 1.8]
    observed = healthy()
    observed.to_frame, observed.frame_legs = [1.5] * 300, ([0.1] * 300, [1.4] * 3000)
    text = report(judge(observed))
    assert "NO-GO  board frames within 1 s" in text
    assert "from the count to the board's read holding it p50 100 ms" in text
    assert "from that read to the viewer p50 1400 ms" in text


def test_the_rehearsals_payers_are_never_the_sandboxs_failing_ones() -> None:
    """A short rehearsal's few numbers began at a random place: one ending in 450-459 failed its payment at the
    sandbox, and the rehearsal said no-go (about one run in fourteen)."""
    endings = {msisdn(number)[-3:] for number in range(1_000_000, 1_002_000)}
    assert not endings & {str(ending) for ending in range(450, 460)}
    assert all(msisdn(number).startswith("+23767") and len(msisdn(number)) == 13 for number in (0, 9_999_999, 455))


def test_no_two_of_a_rehearsals_votes_share_a_number() -> None:
    """Numbers ending 456-459 were moved onto 466-469, which other votes had: the second vote met the first's
    per-number limits, and the two orders could not be told apart."""
    numbers = range(3_000_000, 3_020_000)
    assert len({msisdn(number) for number in numbers}) == len(numbers)


def check(observed: Observed, start: str) -> str:
    """The line of the report whose check's name starts so (GO/NO-GO and figures)."""
    return next(line for line in report(judge(observed)).splitlines() if line[7:].startswith(start))


def test_answers_are_matched_with_the_orders_they_named_not_counted() -> None:
    """What the recorded run counted as lost ('62829 orders for 87850 votes taken in'): SMS kept and not answered
    yet, refusing USSD screens, and requests the client gave up on that placed their order all the same."""
    orders = [Order(uuid.uuid4(), msisdn(n), "paid", 1, 1, 10.0, 9.9) for n in range(5)]
    votes = [
        Vote("web", msisdn(0), Told.PLACED, str(orders[0].id)),
        Vote("ussd", msisdn(1), Told.PLACED, orders[1].reference),
        Vote("sms", msisdn(2), Told.KEPT, "AT-2"),  # answered with its payment prompt
        Vote("web", msisdn(3), Told.NO_ANSWER, "TimeoutError"),  # the server went on
        Vote("sms", msisdn(4), Told.NO_ANSWER, "ClientOSError: Connection reset by peer"),  # kept all the same
        Vote("sms", msisdn(5), Told.KEPT, "AT-5"),  # a worker has not handled it yet
        Vote("sms", msisdn(6), Told.KEPT, "AT-6"),  # answered with a refusal
        Vote("ussd", msisdn(7), Told.REFUSED, "END Service indisponible"),
    ]
    sms = {"AT-2": SmsAnswer("vote", orders[2].id), "AT-5": SmsAnswer(None, None), "AT-6": SmsAnswer("refused", None)}
    found = fates(votes, orders, sms)
    assert (found.found, dict(found.told_placed), found.lost) == (3, {"web": 1, "ussd": 1, "sms": 1}, [])
    assert (found.gave_up, found.placed_anyway, found.unanswered) == (2, 2, 1)
    assert found.refused == Counter({"web: TimeoutError": 1, "sms: ClientOSError: Connection reset by peer": 1,
                                     "sms: refused": 1, "ussd: END Service indisponible": 1})
    observed = healthy()
    observed.fates = found
    assert check(observed, "every vote told it was placed").startswith(
        "GO     every vote told it was placed has its order: 3 of 3 (sms 1, ussd 1, web 1); 2 given up on by the "
        "client, 2 of which placed an order all the same")
    assert check(observed, "every vote decided") == (
        "NO-GO  every vote decided once the traffic stopped: after waiting 3 s: 0 orders pending, 1 SMS not answered")


def test_a_voter_told_of_an_order_that_is_not_there_is_a_vote_lost() -> None:
    kept = Order(uuid.uuid4(), msisdn(1), "paid", 1, 1, 10.0, 9.9)
    votes = [Vote("web", msisdn(0), Told.PLACED, str(uuid.uuid4())),
             Vote("ussd", msisdn(1), Told.PLACED, "0BADF00D"),  # its number has an order, not the one it was told
             Vote("sms", msisdn(2), Told.KEPT, "AT-2")]
    observed = healthy()
    observed.fates = fates(votes, [kept], {"AT-2": SmsAnswer("vote", uuid.uuid4())})
    line = check(observed, "every vote told it was placed")
    assert line.startswith("NO-GO  every vote told it was placed has its order: 0 of 3")
    assert f"lost: web {msisdn(0)} (told " in line and f"ussd {msisdn(1)} (told 0BADF00D)" in line
    assert f"sms {msisdn(2)}" in line


def test_a_vote_placed_twice_is_a_no_go() -> None:
    first, second = (Order(uuid.uuid4(), msisdn(0), "paid", 1, 1, 10.0, 9.9) for _ in range(2))
    observed = healthy()
    observed.fates = fates([Vote("web", msisdn(0), Told.PLACED, str(first.id))], [first, second], {})
    line = check(observed, "every vote told it was placed")
    assert line.startswith("NO-GO") and f"1 numbers with two orders or more: {msisdn(0)}" in line


def test_counted_once_compares_each_order_with_its_own_entries_on_the_ledger() -> None:
    """Like with like: a refunded or flagged order owes no vote on the ledger, an order of two votes owes two, and
    votes counted meanwhile for other orders move the tallies and the ledger alike."""
    orders = [*paid(3), Order(uuid.uuid4(), msisdn(7), "paid", 2, 2, 10.0, 9.9),
              Order(uuid.uuid4(), msisdn(8), "refunded", 1, 0, 10.0, 9.9),  # counted, then taken back off
              Order(uuid.uuid4(), msisdn(9), "flagged", 1, 0, 10.0, 9.9)]
    observed = healthy()
    observed.counting = counting(orders, tallies_moved=9, ledger_moved=9)
    assert check(observed, "every paid vote counted once") == (
        "GO     every paid vote counted once: 4 paid orders, 5 votes; the ledger counts 5 for the rehearsal's orders "
        "(none owed by the others: flagged 1, refunded 1); tallies moved by 9, the ledger's entries since the start "
        "by 9 (4 for orders not the rehearsal's)")
    for wrong in (Order(orders[5].id, msisdn(9), "flagged", 1, 1, 10.0, 9.9),  # flagged, its vote left counted
                  Order(orders[3].id, msisdn(7), "paid", 2, 4, 10.0, 9.9)):  # counted twice
        observed.counting = counting([*orders[:3], wrong], tallies_moved=9, ledger_moved=9)
        line = check(observed, "every paid vote counted once")
        assert line.startswith("NO-GO") and f"{wrong.id} is {wrong.status} with {wrong.quantity} votes, the ledger " \
                                            f"counts {wrong.on_ledger}" in line
    observed.counting = counting(orders, tallies_moved=10, ledger_moved=9)  # a tally moved by no entry
    assert check(observed, "every paid vote counted once").startswith("NO-GO")


def test_a_ledger_that_does_not_verify_is_a_no_go_with_what_it_found() -> None:
    observed = healthy()
    problem = "candidate 7: the ledger counts 300 votes, the tallies table 305"
    observed.ledger = LedgerFinding(310, "ab" * 32, (problem,))
    assert check(observed, "the ledger verifies") == (
        "NO-GO  the ledger verifies (gateway ledger verify): BROKEN: candidate 7: the ledger counts 300 votes, the "
        "tallies table 305")
    assert not go(judge(observed))


def test_orders_still_pending_when_the_rehearsal_stops_waiting_are_a_no_go() -> None:
    observed = healthy()
    assert check(observed, "every vote decided") == (
        "GO     every vote decided once the traffic stopped: settled within 3 s of the last vote")
    observed.pending, observed.waited = 12, 300
    assert check(observed, "every vote decided") == (
        "NO-GO  every vote decided once the traffic stopped: after waiting 300 s: 12 orders pending, 0 SMS not "
        "answered")


def test_a_callback_kept_after_the_longest_wait_the_database_notes_is_said_to_be_that_long_or_longer() -> None:
    observed = healthy()
    observed.to_tally = [0.2] * 299 + [10.0]  # a callback kept 10 s or more after it arrived: clamped
    text = report(judge(observed))
    assert "max 10000 ms or more (the most the database keeps of a callback's wait)" in text
    observed.to_tally = [0.2] * 299 + [9.5]
    assert "max 9500 ms, n=300" in report(judge(observed))
