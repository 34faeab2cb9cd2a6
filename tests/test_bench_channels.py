"""`python -m bench.channels`: where each channel's vote goes, read from the stack's own counters."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.channel_counts import (
    Counts,
    Stats,
    commands_of,
    per_vote,
    redis_line,
    replaced_line,
    requests_line,
    served_and_called,
    stats_line,
)
from bench.channels import parse_args

METRICS = """\
# HELP gateway_http_requests_total HTTP requests served
# TYPE gateway_http_requests_total counter
gateway_http_requests_total{method="POST",route="/ussd/africastalking",status="200"} 60.0
gateway_http_requests_total{method="POST",route="/ussd/africastalking",status="429"} 2.0
gateway_http_requests_total{method="PUT",route="/payments/mtn/callback/{order_id}",status="200"} 10.0
gateway_http_requests_total{method="GET",route="/metrics",status="200"} 7.0
# HELP gateway_provider_calls_total Requests to the providers by how they were answered
# TYPE gateway_provider_calls_total counter
gateway_provider_calls_total{outcome="ok",provider="mtn"} 20.0
gateway_provider_calls_total{outcome="throttled",provider="mtn"} 1.0
# HELP gateway_processes_replaced_total Processes gateway run killed and started again
# TYPE gateway_processes_replaced_total counter
gateway_processes_replaced_total{process="web"} 2.0
"""


def test_requests_are_told_by_route_whatever_their_answer_and_the_benchmarks_own_reads_left_out() -> None:
    served, called, replaced = served_and_called(METRICS)
    assert served == {"POST /ussd/africastalking": 62, "PUT /payments/mtn/callback/{order_id}": 10}
    assert called == {"mtn ok": 20, "mtn throttled": 1}
    assert replaced == {"web": 2}


def test_redis_commands_per_vote_leave_out_the_benchmarks_info_and_name_the_busiest() -> None:
    before, usec_before = commands_of({"cmdstat_hset": {"calls": 10, "usec": 100}, "cmdstat_info": {"calls": 3},
                                       "redis_version": "7"})
    after, usec_after = commands_of({"cmdstat_hset": {"calls": 70, "usec": 700}, "cmdstat_info": {"calls": 9},
                                     "cmdstat_eval": {"calls": 20, "usec": 2300}})
    assert "info" not in after
    line = redis_line(Counts(commands=before, redis_usec=usec_before), Counts(commands=after, redis_usec=usec_after),
                      10)
    assert line == "8.0 commands (0.29 ms inside them): hset 6.00, eval 2.00"


def test_processes_replaced_meanwhile_are_named_by_kind() -> None:
    before, after = Counts(replaced=Counter(web=1, worker=0)), Counts(replaced=Counter(web=3, worker=0))
    assert replaced_line(before, after) == "web 2"
    assert replaced_line(Counts(), Counts(replaced=Counter(web=0))) == "none"


def test_a_counter_that_barely_moved_is_not_shown_as_part_of_a_vote() -> None:
    assert per_vote(Counter(a=5, b=1), Counter(a=25, b=1, c=1), 1000) == "a 0.02"
    assert per_vote(Counter(), Counter(), 10) == "none"


def test_the_requests_line_tells_jobs_and_the_stand_ins_per_vote() -> None:
    before = Counts(rq_jobs=4, rq_seconds=1.0, at_messages=10, bot_calls=0)
    after = Counts(requests=Counter({"POST /sms/africastalking/inbound": 10}), rq_jobs=24, rq_seconds=1.5,
                   at_messages=30, bot_calls=0)
    line = requests_line(before, after, 10)
    assert line.startswith("into the service: POST /sms/africastalking/inbound 1.00; RQ jobs 2.00 (25.0 ms")
    assert line.endswith("SMS through the AT stand-in 2.00, Bot API calls 0.00")


def test_only_the_channels_named_are_measured_in_that_order() -> None:
    assert parse_args([]).channels == ["web", "ussd", "sms", "telegram"]
    assert parse_args(["--only", "telegram, web"]).channels == ["telegram", "web"]
    with pytest.raises(SystemExit):
        parse_args(["--only", "web,fax"])
    with pytest.raises(SystemExit):
        parse_args(["--rate", "0"])


def test_postgresql_figures_per_vote_are_the_statistics_growth_over_the_votes() -> None:
    before = Stats(commits=100, inserted=10, updated=5, deleted=0, wal_syncs=7, full_pages=1, wal_bytes=1_000_000)
    after = Stats(commits=300, inserted=110, updated=55, deleted=2, wal_syncs=37, full_pages=1, wal_bytes=1_204_800)
    assert stats_line(before, after, 20) == ("commits 10.00 (read-only included), WAL flushes 1.50, WAL 10.0 KiB "
                                             "(0.00 full-page images), rows inserted 5.00, updated 2.50, deleted 0.10")
