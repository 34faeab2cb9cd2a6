"""`python -m bench.cluster_votes`: the strict-against-off difference is read from bench.votes' own latency text."""

from __future__ import annotations

import math

from bench.cluster_votes import COUNTED, Run, change, pooled, spread_values
from bench.votes import spread


def test_the_callback_to_counted_percentiles_are_read_back_from_bench_votes_text() -> None:
    seconds = [0.010 + i / 10_000 for i in range(1000)]  # 10.0 ms .. 109.9 ms
    p50, p99 = spread_values(spread(seconds))
    assert math.isclose(p50, 59.9, abs_tol=0.2) and math.isclose(p99, 108.9, abs_tol=0.2)


def test_no_latencies_read_as_not_a_number_rather_than_a_difference() -> None:
    assert all(math.isnan(value) for value in spread_values(spread([])))
    assert all(math.isnan(value) for value in spread_values("no stream in this build"))


def test_a_difference_names_its_share_of_the_figure_without_synchronous_replication() -> None:
    assert change(20.0, 15.0) == "-5.00 (-25%)"
    assert change(0.0, 1.5) == "+1.50"


def test_rounds_of_one_mode_are_averaged_and_their_answers_pooled() -> None:
    def run(rate: float, primary: float, p50: float, answers: list[float]) -> Run:
        return Run("strict", 1, {"_rate": str(rate), COUNTED: f"p50 {p50} ms, p99 {p50 * 2} ms, n=10"}, answers,
                   {"PostgreSQL primary": primary})

    second = Run("strict", 2, {"_rate": "30.0", COUNTED: "p50 200.0 ms, p99 400.0 ms"}, [1.5],
                 {"PostgreSQL primary": 8.0, "Patroni": 0.4})
    both = pooled([run(20.0, 6.0, 100.0, [0.5]), second])
    assert both.rate == 25.0 and both.to_counted == (150.0, 300.0) and sorted(both.answers) == [0.5, 1.5]
    # A kind one run did not see counts as none in it, not as missing from the mean.
    assert both.cpu_ms == {"PostgreSQL primary": 7.0, "Patroni": 0.2}
