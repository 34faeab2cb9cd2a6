"""The alert rules the control room evaluates itself, as deploy/prometheus/rules.yml declares them: each rule's
thresholds, the windows its expression reads (its own range selectors and those of the recorded series it reads)
and its `for:` duration, here in one place the in-process evaluation reads (`admin.control_conditions`) and a
test compares with the rules file (tests/admin/test_control_rules_in_step.py), so a threshold, window or `for:`
changed in one place and not the other fails the suite.

The rules it cannot evaluate are named with the reason: they read what only Prometheus or an exporter sees.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str  # the alert's name in rules.yml
    # Every figure of its expression and its recorded series', each once: thresholds, factors, bounds, minimum
    # counts, the SLO's bucket (a share's "1 - …" and a series times 0, kept for its labels, are no figures).
    thresholds: tuple[float, ...]
    windows: tuple[float, ...] = ()  # seconds: its range selectors and offsets, its recorded series' included
    for_seconds: float = 0.0  # `for:`: how long the condition holds before the alert fires (pending meanwhile)
    # Held back while RedisDown fires and for this long after (0: never): what a Redis outage causes, and what
    # lingers once Redis is back (the passes' old ages, the relay's catch-up, the burn windows), is RedisDown's news.
    after_redis_down: float = 0.0

    @property
    def all_windows(self) -> tuple[float, ...]:
        return self.windows + ((self.after_redis_down,) if self.after_redis_down else ())

    @property
    def longest_window(self) -> float:
        return max(self.all_windows, default=0.0)


TALLY_SLO_SECONDS = 2.0  # a bucket bound of gateway_callback_to_tally_seconds (the recorded ratios' `le`)
BOARD_SLO_SECONDS = 1.0  # …of gateway_count_to_board_seconds
FAST_BURN = 14.4 * 0.01  # 14.4 times a 1 % error budget: gone in 12.5 minutes of a 3-hour show
SLOW_BURN = 6 * 0.01

# The share of observations over the SLO (a bucket bound) above the burn, over both windows.
VOTES_COUNTED_LATE_FAST = Rule("VotesCountedLateFastBurn", (FAST_BURN, TALLY_SLO_SECONDS), (120, 20))
VOTES_COUNTED_LATE_SLOW = Rule("VotesCountedLateSlowBurn", (SLOW_BURN, TALLY_SLO_SECONDS), (720, 60))
AFTER_REDIS_DOWN = 300.0
BOARD_FRAMES_LATE_FAST = Rule("BoardFramesLateFastBurn", (FAST_BURN, BOARD_SLO_SECONDS), (120, 20),
                              after_redis_down=AFTER_REDIS_DOWN)
BOARD_FRAMES_LATE_SLOW = Rule("BoardFramesLateSlowBurn", (SLOW_BURN, BOARD_SLO_SECONDS), (720, 60),
                              after_redis_down=AFTER_REDIS_DOWN)
# A contest on air silent (no order placed since the later of its last order and its opening) for over 600 s.
NO_VOTES_ARRIVING = Rule("NoVotesArriving", (600,), (), 120)
# Each periodic pass's age above its own threshold: no figure of its own, each pass's (`WorkerPass.silent_after`)
# is handed to the room by the assembly (`admin.keys.WATCHED_PASSES`); tests/admin/test_pass_thresholds.py
# checks them equal to the rule's.
PERIODIC_PASS_SILENT = Rule("PeriodicPassSilent", (), (), 30, AFTER_REDIS_DOWN)
# A pass age absent while the gateway is scraped (`up == 1`, counted `> 0`): here, while it serves this page.
RECONCILER_OR_RELAY_UNKNOWN = Rule("ReconcilerOrRelayUnknown", (1, 0), (), 120, AFTER_REDIS_DOWN)
UNKNOWN_WATCHES = ("reconcile", "relay-outbox")  # the passes whose age ReconcilerOrRelayUnknown wants known
OUTBOX_NOT_RELAYED = Rule("OutboxNotRelayed", (30,), (), 60, AFTER_REDIS_DOWN)
# The backlog's slope over the window above 0, and its oldest past 300 s.
VERIFICATION_BACKLOG_GROWING = Rule("VerificationBacklogGrowing", (0, 300), (600,), 300)
PROVIDER_THROTTLING = Rule("ProviderThrottling", (0.05,), (60,), 120)
PROVIDER_FAILING = Rule("ProviderFailing", (0.10,), (60,), 120)
# The share of a provider's orders paid over the first window (at least 20) the reconciler found paid: its highest
# over the second window (at most 1) above 0.5.
PROVIDER_CALLBACKS_LOST = Rule("ProviderCallbacksLost", (0.5, 20, 1), (120, 180), 60)
# A provider's share of its decided orders declined over the first window (at least 20 decided) above twice its
# share over the second, offset by the first (the hour before; at least 20 decided), clamped to [0.5, 0.9]; 0.9
# without such an hour.
PROVIDER_DECLINING = Rule("ProviderDeclining", (20, 2, 0.5, 0.9), (120, 3600), 60)
# gateway_redis_up (or the exporter's redis_up) below 1: here, Redis did not answer the room's own reads in time
# (cause "unanswered"; "unwatched", no exporter, is Prometheus' alone).
REDIS_DOWN = Rule("RedisDown", (1,), (), 10)
GATEWAY_PROCESS_REPLACED = Rule("GatewayProcessReplaced", (0,), (900,), 0)

COMPUTED = (VOTES_COUNTED_LATE_FAST, VOTES_COUNTED_LATE_SLOW, BOARD_FRAMES_LATE_FAST, BOARD_FRAMES_LATE_SLOW,
            NO_VOTES_ARRIVING, PERIODIC_PASS_SILENT, RECONCILER_OR_RELAY_UNKNOWN, OUTBOX_NOT_RELAYED,
            VERIFICATION_BACKLOG_GROWING, PROVIDER_THROTTLING, PROVIDER_FAILING, PROVIDER_CALLBACKS_LOST,
            PROVIDER_DECLINING, REDIS_DOWN, GATEWAY_PROCESS_REPLACED)
# The rules whose windows PostgreSQL's own counts cover (orders placed, decided): no snapshot is kept for them.
COUNTED_IN_THE_DATABASE = (NO_VOTES_ARRIVING, PROVIDER_DECLINING)

# The rules only Prometheus can evaluate, and why.
NOT_COMPUTED = {
    "TargetDown": "Prometheus' own scrapes (`up`): whether it reaches each target",
    "GatewayNotScraped": "Prometheus' own scrapes: a page served here is the gateway answering",
    "PostgresDown": "postgres_exporter's pg_up; this page reads PostgreSQL and fails without it",
    "DiskFilling": "node_exporter's filesystem figures",
    "WalArchiveFailing": "postgres_exporter's pg_stat_archiver figures",
    "WalArchiveBehind": "postgres_exporter's pg_stat_archiver figures",
    "PostgresTimelineWithoutBaseBackup": "postgres_exporter's pg_timeline query (deploy/prometheus/queries.yaml)",
    "PostgresNoSyncStandby": "Patroni's /metrics on each node (the cluster's roles)",
    "PostgresReplicationLagHigh": "Patroni's /metrics on each node (WAL locations)",
    "PostgresFailover": "Patroni's /metrics on each node (timelines over 10 minutes)",
    "EtcdNoQuorum": "etcd's own /metrics and Prometheus' scrapes of its members",
    "RedisSentinelFailover": "the sentinels' word through prometheus-redis-exporter, over 10 minutes",
}

# How far back the room's snapshots must reach: the longest window of the rules it evaluates from them.
LONGEST_WINDOW = max(rule.longest_window for rule in COMPUTED if rule not in COUNTED_IN_THE_DATABASE)
