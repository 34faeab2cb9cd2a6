"""The control room's in-process alerts follow Prometheus' rules in time: each over its own window, pending until
its condition held for the rule's `for:`, and gone as soon as the condition ends. The room is looked at every few
seconds, as an open stream refreshes it; pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from admin.alert_rules import PERIODIC_PASS_SILENT, PROVIDER_CALLBACKS_LOST, PROVIDER_FAILING, REDIS_DOWN
from admin.alert_states import Alert, AlertStates
from admin.control_alerts import LevelsHistory, LevelsSnapshot, quantile
from admin.control_conditions import evaluate, record
from gateway.core.oversight.control_room import ServiceFigures

LOOK_EVERY = 3.0  # the stream's refresh
# Each periodic pass's threshold, as the assembly hands them to the room (`WATCHED_PASSES`).
SILENT_AFTER = {"reconcile": 45, "relay-outbox": 45, "money-check": 900}
PASSES_NOW = {"reconcile": 1.0, "relay-outbox": 1.0, "money-check": 1.0}


def figures(**overrides: Any) -> ServiceFigures:
    base: dict[str, Any] = dict(
        at=datetime.now(UTC), window_seconds=300, votes_by_channel={}, votes_by_provider={}, votes_by_minute=[],
        money_in={}, refunds={}, held_orders=0, held_votes=0, verification_backlog=0,
        verification_oldest_seconds=None, outbox_backlog=0, outbox_oldest_seconds=None, open_contests=1,
        contests_on_air=1, orders_placed_recently=5, pending_orders=0)
    return ServiceFigures(**{**base, **overrides})


class Room:
    """A room looked at every LOOK_EVERY seconds from t = 0, its figures as `world(t)` makes them."""

    def __init__(self, started_at: float = 0.0) -> None:
        self.history = LevelsHistory(started_at)
        self.states = AlertStates()

    def look(self, t: float, current: LevelsSnapshot, ages: dict[str, float | None] | None = PASSES_NOW,
             room_figures: ServiceFigures | None = None) -> dict[str, Alert]:
        room_figures = room_figures or figures()
        current = record(self.history, t, current, room_figures.paid_recently)
        found = evaluate(self.states, room_figures, ages, self.history, t, current, silent_after=SILENT_AFTER)
        return {alert.key: alert for alert in found}

    def run(self, until: float, world: Callable[[float], LevelsSnapshot], key: str,
            **looked: Any) -> list[tuple[float, str]]:
        """Each look's state of the alert `key` (absent: inactive)."""
        seen = []
        t = 0.0
        while t <= until:
            alerts = self.look(t, world(t), **looked)
            seen.append((t, alerts[key].state if key in alerts else "inactive"))
            t += LOOK_EVERY
        return seen


def provider_calls(failing_until: float) -> Callable[[float], LevelsSnapshot]:
    """MTN answered 10 calls a second, every one a 5xx until `failing_until`, then every one well."""
    def at(t: float) -> LevelsSnapshot:
        failed = 10 * min(t, failing_until)
        return LevelsSnapshot(calls={("mtn", "server_error"): failed, ("mtn", "ok"): 10 * t - failed})
    return at


def first(seen: list[tuple[float, str]], state: str, after: float = -1.0) -> float | None:
    return next((t for t, s in seen if s == state and t > after), None)


def test_a_provider_failing_two_minutes_fires_then_resolves_within_its_one_minute_window() -> None:
    seen = Room().run(600, provider_calls(failing_until=150), "ProviderFailing:mtn")
    assert first(seen, "pending") == LOOK_EVERY  # the first look after the first calls
    fired = first(seen, "firing")
    assert fired == LOOK_EVERY + PROVIDER_FAILING.for_seconds
    resolved = first(seen, "inactive", after=fired)
    # Over its 1-minute rate the failing share drops under 10 % once nine tenths of that minute went well: 54 s
    # after the fault ended, never five minutes.
    assert resolved is not None and 150 + 50 <= resolved <= 150 + PROVIDER_FAILING.windows[0]
    assert all(state == "inactive" for t, state in seen if t >= resolved)


def test_a_fault_shorter_than_its_for_never_fires() -> None:
    seen = Room().run(400, provider_calls(failing_until=60), "ProviderFailing:mtn")
    assert first(seen, "pending") == LOOK_EVERY
    assert first(seen, "firing") is None  # 60 s failing, plus its minute's tail: under the rule's 2 minutes


def test_redis_not_answering_is_redis_down_within_its_for_and_holds_back_what_it_causes() -> None:
    room = Room()
    alerts = room.look(0.0, LevelsSnapshot(), ages=None)
    assert alerts["RedisDown:unanswered"].state == "pending"
    assert alerts["PeriodicPassSilent:relay-outbox"].state == "inactive"  # no age known: not a silence
    later = room.look(REDIS_DOWN.for_seconds, LevelsSnapshot(), ages=None)
    assert later["RedisDown:unanswered"].firing and later["RedisDown:unanswered"].active_for == REDIS_DOWN.for_seconds
    # From the next evaluation (Prometheus' recorded series too reads its last), the passes' absence waits.
    held = room.look(REDIS_DOWN.for_seconds + LOOK_EVERY, LevelsSnapshot(), ages=None)
    assert held["ReconcilerOrRelayUnknown"].state == "inactive"
    # Redis is back; the passes' ages kept from before it are old until the worker's next passes.
    back_at = REDIS_DOWN.for_seconds + 60
    stale = {"reconcile": 100.0, "relay-outbox": 100.0}
    back = room.look(back_at, LevelsSnapshot(), ages=stale)
    assert back["RedisDown"].state == "inactive" and back["PeriodicPassSilent:relay-outbox"].state == "inactive"
    # Still silent 5 minutes after RedisDown last fired: a page of its own.
    last_fired = REDIS_DOWN.for_seconds + LOOK_EVERY  # its last evaluation while Redis did not answer
    after = room.look(last_fired + PERIODIC_PASS_SILENT.after_redis_down + LOOK_EVERY, LevelsSnapshot(),
                      ages=stale)
    assert after["PeriodicPassSilent:relay-outbox"].state == "pending"


def test_callbacks_lost_takes_the_highest_share_of_the_reconcilers_finds_over_three_minutes() -> None:
    """A pass ends at 120 s having found 21 of the 40 orders MTN was paid in 2 minutes (Orange: all 19 of 19, too
    few to tell); no pass ends after it. The 2-minute share drops back to 0 once the pass's finds leave its window
    (240 s): the rule holds its highest for 3 minutes more, fires once, and is gone after."""
    paid = figures(paid_recently={"mtn": 40, "orange": 19})

    def finds(t: float) -> LevelsSnapshot:
        return LevelsSnapshot(found_paid={"mtn": 100.0, "orange": 0.0} if t < 120 else {"mtn": 121.0, "orange": 19.0})

    room = Room(started_at=-10.0)  # what Redis counted before this process started is no find of the window
    seen = room.run(480, finds, "ProviderCallbacksLost:mtn", room_figures=paid)
    assert first(seen, "pending") == 120.0
    assert first(seen, "firing") == 120.0 + PROVIDER_CALLBACKS_LOST.for_seconds
    assert first(seen, "inactive", after=120.0) == 240.0 + PROVIDER_CALLBACKS_LOST.windows[1]
    assert [state for t, state in seen if 180 <= t < 420] == ["firing"] * 80  # once, and all along
    assert room.look(483.0, finds(483.0), room_figures=paid)["ProviderCallbacksLost:orange"].state == "inactive"


def test_a_provider_declining_over_twice_its_usual_share() -> None:
    declines = {"mtn": (19, 20, 10, 100), "orange": (11, 20, 10, 100), "airtel": (18, 20, 0, 5),
                "mpesa": (19, 19, 0, 0)}
    alerts = Room().look(0.0, LevelsSnapshot(), room_figures=figures(decisions=declines))
    assert alerts["ProviderDeclining:mtn"].state == "pending"  # 95 % against 10 % usually: over its 50 % floor
    assert alerts["ProviderDeclining:orange"].state == "pending"  # 55 % > 50 %
    assert alerts["ProviderDeclining:airtel"].state == "inactive"  # 90 %, no usual hour: not over 90 %
    assert alerts["ProviderDeclining:mpesa"].state == "inactive"  # fewer than 20 decided: too few to tell


def test_each_condition_holds_beyond_its_threshold_only() -> None:
    quiet = Room().look(0.0, LevelsSnapshot(), ages={"reconcile": 10.0, "relay-outbox": 44.0,
                                                                "money-check": 899.0},
                        room_figures=figures(outbox_oldest_seconds=29.0, verification_oldest_seconds=299.0))
    assert {key for key, alert in quiet.items() if alert.state != "inactive"} == set()
    loud = Room().look(1.0, LevelsSnapshot(tally_buckets=((2.0, 80.0), (float("inf"), 100.0))),
                       ages={"reconcile": 46.0, "relay-outbox": None, "money-check": 901.0},
                       room_figures=figures(outbox_oldest_seconds=31.0,
                                            contest_silences={"gala": 601.0, "quiz": 600.0}))
    assert {key for key, alert in loud.items() if alert.state != "inactive"} == {
        "VotesCountedLateFastBurn", "VotesCountedLateSlowBurn", "NoVotesArriving:gala",
        "PeriodicPassSilent:reconcile", "PeriodicPassSilent:money-check", "ReconcilerOrRelayUnknown",
        "OutboxNotRelayed"}
    assert loud["PeriodicPassSilent:money-check"].detail == "901 s / 900 s"  # each pass against its own limit
    assert loud["VotesCountedLateFastBurn"].firing  # no `for:`: at once
    assert loud["OutboxNotRelayed"].state == "pending"
    assert loud["NoVotesArriving:quiz"].state == "inactive"  # each contest by its own silence


def test_the_verification_backlog_grows_by_its_slope_over_ten_minutes() -> None:
    room = Room()
    old = figures(verification_oldest_seconds=400.0)
    for t in range(0, 300, 3):
        alerts = room.look(float(t), LevelsSnapshot(verification_backlog=float(t)), room_figures=old)
    assert alerts["VerificationBacklogGrowing"].state == "pending"
    draining = room.look(900.0, LevelsSnapshot(verification_backlog=0.0), room_figures=old)
    assert draining["VerificationBacklogGrowing"].state == "inactive"


def test_each_window_reads_the_snapshots_of_its_length() -> None:
    history = LevelsHistory(started_at=-20.0)
    old = LevelsSnapshot(tally_buckets=((1.0, 50.0), (float("inf"), 50.0)), calls={("mtn", "throttled"): 50.0})
    history.add(0.0, old)
    assert history.over(0.0, old, 300)[0].tally_buckets == old.tally_buckets  # younger than the window: since start
    assert history.over(0.0, old, 300)[1] == 20.0
    new = LevelsSnapshot(tally_buckets=((1.0, 50.0), (float("inf"), 60.0)), calls={("mtn", "throttled"): 50.0,
                                                                                  ("mtn", "ok"): 10.0})
    history.add(400.0, new)
    window, span = history.over(400.0, new, 300)
    assert window.tally_buckets == ((1.0, 0.0), (float("inf"), 10.0)) and span == 400.0
    assert window.calls == {("mtn", "throttled"): 0.0, ("mtn", "ok"): 10.0}
    # A minute's window long after the last look: the snapshot 400 s old is far older, a younger one covers part.
    history.add(460.0, new)
    assert history.over(462.0, new, 60)[1] == 62.0
    assert history.over(462.0, new, 30)[1] == 2.0
    assert quantile(0.5, window.tally_buckets) == 1.0  # beyond the last finite bound: that bound
    assert quantile(0.5, ()) is None
