"""10,000 concurrent SSE viewers on one web process of the whole stack.

    python -m bench.stream [--clients 10000] [--rounds 3]

Reports the time from a board change to each viewer receiving it (p50/p99/max per round) and the
web process's memory per open stream, once connected and what the rounds added (with many `--rounds`, what
a show's frames and heartbeats add). Targets: p99 < 1 s, < 20 KB per connection, nothing more with time.
"""

from __future__ import annotations

import argparse
import asyncio
import resource

from bench import stream_load
from bench.harness import print_report, record, running_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    # The stack's processes inherit this limit: one web process must hold every stream.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.clients + 4096), hard))
    with running_stack(web_processes=1) as stack:
        (web_pid,) = stack.web_pids()
        load_args = stream_load.parse_args([
            "--url", f"{stack.base_url}/api/v1/contests/demo/leaderboard/stream", "--clients", str(args.clients),
            "--pid", str(web_pid), "--redis-url", stack.redis_url, "--database-url", stack.database_url,
            "--rounds", str(args.rounds)])
        report = asyncio.run(stream_load.main(load_args))
    figures = {
        "viewers": f"{report['connected']} of {report['clients']} connected in {report['connect_seconds']} s, "
                   f"{report['failed']} failed",
        **{f"round {i + 1}: change -> every viewer": ", ".join(f"{k} {v}" for k, v in r.items())  # type: ignore
           for i, r in enumerate(report["rounds"])},  # type: ignore[arg-type]
        "web process RSS": f"{report.get('rss_before_mib')} MiB -> {report.get('rss_after_mib')} MiB",
        "memory per connection": f"{report.get('kib_per_connection')} KiB; then "
                                 f"{report.get('kib_per_connection_later')} KiB more after the rounds "
                                 f"({report.get('later_seconds')} s)",
        "target": "p99 < 1 s, < 20 KB per connection",
    }
    record("stream", print_report("stream: concurrent SSE viewers on one web process", figures))


if __name__ == "__main__":
    main()
