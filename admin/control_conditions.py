"""The conditions of deploy/prometheus/rules.yml the control room can evaluate from its own figures, each over its
rule's windows and against its thresholds (`admin.alert_rules`); `admin.alert_states` turns them into pending and
firing alerts by the rules' `for:`.

Their inputs stand for the series the rules read: the measured figures' history (`LevelsHistory`) for the rates,
PostgreSQL's figures (`ServiceFigures`) for the gauges read at scrape time, and Redis' answer for the passes' ages
(`gateway_periodic_last_pass_age_seconds`, each against its pass's threshold) and for `redis_up` itself: the room
reads Redis at each look, and an error there is Redis not answering. Pure: tested without I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from admin import alert_rules as rules
from admin.alert_states import Alert, AlertStates, Condition
from admin.control_alerts import LevelsHistory, LevelsSnapshot, late_share, provider_shares
from gateway.core.oversight.control_room import ServiceFigures


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def burn(rule: rules.Rule, history: LevelsHistory, now: float, current: LevelsSnapshot, slo: float,
         buckets: str) -> Condition:
    """The share over the SLO above the burn threshold over both windows (the long one and the short)."""
    shares = [late_share(getattr(history.over(now, current, seconds)[0], buckets), slo) for seconds in rule.windows]
    holds = all(share is not None and share > rule.thresholds[0] for share in shares)
    return Condition(rule, holds, " / ".join(_share(share) for share in shares) + f" > {slo:g} s")


def passes(ages: Mapping[str, float | None] | None, silent_after: Mapping[str, int]) -> list[Condition]:
    """The periodic passes' ages, each against its own threshold (`silent_after`, by pass): one too old is silent;
    the reconciler's or the relay's not known (never recorded, or Redis not answering) is unknown, as Prometheus sees
    an absent series."""
    silent = rules.PERIODIC_PASS_SILENT
    found = []
    for name, threshold in silent_after.items():
        age = None if ages is None else ages.get(name)
        found.append(Condition(silent, age is not None and age > threshold,
                               f"{'–' if age is None else f'{age:.0f} s'} / {threshold} s",  # its age / its limit
                               (("pass", name),)))
    unknown = [name for name in rules.UNKNOWN_WATCHES if ages is None or ages.get(name) is None]
    found.append(Condition(rules.RECONCILER_OR_RELAY_UNKNOWN, bool(unknown), ", ".join(unknown) or "–"))
    return found


def providers(history: LevelsHistory, now: float, current: LevelsSnapshot,
              decisions: Mapping[str, tuple[int, int, int, int]]) -> list[Condition]:
    found = []
    for rule, index in ((rules.PROVIDER_THROTTLING, 1), (rules.PROVIDER_FAILING, 2)):
        window, _ = history.over(now, current, rule.windows[0])
        for provider, shares in provider_shares(window.calls).items():
            found.append(Condition(rule, shares[index] > rule.thresholds[0],
                                   f"{shares[index]:.1%} / {shares[0]:.0f}", (("provider", provider),)))
    lost = rules.PROVIDER_CALLBACKS_LOST
    share_above, _, at_most = lost.thresholds
    highest: dict[str, float] = {}
    for _, snap in [*history.within(now, lost.windows[1]), (now, current)]:
        for provider, share in snap.found_paid_share.items():
            highest[provider] = min(max(share, highest.get(provider, 0.0)), at_most)
    for provider in sorted(set(highest) | set(current.found_paid or {})):
        known = highest.get(provider)
        found.append(Condition(lost, known is not None and known > share_above, _share(known),
                               (("provider", provider),)))
    return found + declining(decisions)


def declining(decisions: Mapping[str, tuple[int, int, int, int]]) -> list[Condition]:
    """A provider declining over twice its share of the hour before, within [0.5, 0.9] (0.9 with no such hour)."""
    rule = rules.PROVIDER_DECLINING
    at_least, factor, floor, ceiling = rule.thresholds
    found = []
    for provider, (declined, decided, declined_before, decided_before) in sorted(decisions.items()):
        usual = declined_before / decided_before if decided_before >= at_least else None
        limit = ceiling if usual is None else min(max(factor * usual, floor), ceiling)
        share = declined / decided if decided >= at_least else None
        found.append(Condition(rule, share is not None and share > limit, f"{_share(share)} > {limit:.0%}",
                               (("provider", provider),)))
    return found


def record(history: LevelsHistory, now: float, current: LevelsSnapshot, paid_recently: Mapping[str, int]
           ) -> LevelsSnapshot:
    """The look's snapshot with the share of each provider's recent payments the reconciler found (at least 20
    paid), kept in the history, where the rule reads its highest over a few minutes (the finds come in steps)."""
    lost = rules.PROVIDER_CALLBACKS_LOST
    found = history.over(now, current, lost.windows[0])[0].found_paid
    shares = {} if found is None else {provider: found.get(provider, 0.0) / paid
                                       for provider, paid in paid_recently.items() if paid >= lost.thresholds[1]}
    completed = replace(current, found_paid_share=shares)
    history.add(now, completed)
    return completed


def replaced(history: LevelsHistory, now: float, current: LevelsSnapshot) -> list[Condition]:
    rule = rules.GATEWAY_PROCESS_REPLACED
    window, _ = history.over(now, current, rule.windows[0])
    return [Condition(rule, n > rule.thresholds[0], f"{n:.0f}", (("process", process),))
            for process, n in sorted(window.replaced.items())]


def conditions(figures: ServiceFigures, ages: Mapping[str, float | None] | None, history: LevelsHistory,
               now: float, current: LevelsSnapshot, redis_down_fired_ago: float | None = None, *,
               silent_after: Mapping[str, int]) -> list[Condition]:
    """Every condition the room evaluates, quiet ones included, `current` as `record` completed it. `ages` None:
    Redis did not answer; `silent_after`: each periodic pass's threshold. `redis_down_fired_ago`: seconds since
    RedisDown last fired (None: never), which holds back what a Redis outage causes (`Rule.after_redis_down`)."""
    tally: tuple[float, str] = (rules.TALLY_SLO_SECONDS, "tally_buckets")
    board: tuple[float, str] = (rules.BOARD_SLO_SECONDS, "board_buckets")
    found = [burn(rules.VOTES_COUNTED_LATE_FAST, history, now, current, *tally),
             burn(rules.VOTES_COUNTED_LATE_SLOW, history, now, current, *tally),
             burn(rules.BOARD_FRAMES_LATE_FAST, history, now, current, *board),
             burn(rules.BOARD_FRAMES_LATE_SLOW, history, now, current, *board)]
    silence = rules.NO_VOTES_ARRIVING
    found += [Condition(silence, seconds > silence.thresholds[0], f"{seconds:.0f} s", (("contest", slug),))
              for slug, seconds in sorted(figures.contest_silences.items())]
    found += passes(ages, silent_after)
    outbox_age = figures.outbox_oldest_seconds or 0.0
    found.append(Condition(rules.OUTBOX_NOT_RELAYED, outbox_age > rules.OUTBOX_NOT_RELAYED.thresholds[0],
                           f"{figures.outbox_backlog}, {outbox_age:.0f} s"))
    growing = rules.VERIFICATION_BACKLOG_GROWING
    slope = history.backlog_slope(now, growing.windows[0])
    oldest = figures.verification_oldest_seconds or 0.0
    found.append(Condition(growing, slope is not None and slope > growing.thresholds[0]
                           and oldest > growing.thresholds[1],
                           f"{figures.verification_backlog}, {oldest:.0f} s, {slope or 0.0:+.2f}/s"))
    found += providers(history, now, current, figures.decisions)
    found.append(Condition(rules.REDIS_DOWN, ages is None, "–", (("cause", "unanswered"),) if ages is None else ()))
    found += replaced(history, now, current)
    return [replace(c, holds=False) if redis_down_fired_ago is not None
            and redis_down_fired_ago <= c.rule.after_redis_down else c for c in found]



def evaluate(states: AlertStates, figures: ServiceFigures, ages: Mapping[str, float | None] | None,
             history: LevelsHistory, now: float, current: LevelsSnapshot, *,
             silent_after: Mapping[str, int]) -> list[Alert]:
    """One evaluation of every rule, RedisDown's last firing holding back what it causes."""
    redis_down_ago = states.fired_ago(now, rules.REDIS_DOWN.name)
    return states.evaluate(now, conditions(figures, ages, history, now, current, redis_down_ago,
                                           silent_after=silent_after))
