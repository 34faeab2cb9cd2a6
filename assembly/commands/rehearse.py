"""`gateway rehearse`: drive a staging installation at 150% of the show's expected peak and print go / no-go."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.settings import Settings

if TYPE_CHECKING:
    from assembly.operations.rehearsal.verdict import Check
    from gateway.db.engine import Sessions

MAX_MINUTES = 60.0  # bounded: a rehearsal that forgot to stop would be a flood


def cmd_rehearse(settings: Settings, args: argparse.Namespace) -> int:
    """0 on a go, 1 on a no-go, 2 when the rehearsal could not run (a remote host, no such contest)."""
    from assembly.operations.rehearsal.load import Voter
    from assembly.operations.rehearsal.run import Plan, refuse_remote, rehearse

    try:
        refuse_remote(args.url, args.allow_remote)
    except ValueError as exc:
        print(f"rehearse: {exc}", file=sys.stderr)
        return 2
    ussd, sms, metrics = settings.ussd_callback_token, settings.sms_callback_token, settings.metrics_token
    voter = Voter(args.url.rstrip("/"), args.contest, ussd.get_secret_value() if ussd else None,
                  sms.get_secret_value() if sms else None, args.short_code)

    try:
        with ExitStack() as stack:
            settings = with_services(settings, stack)
            plan = Plan(voter, args.peak, args.minutes * 60, args.viewers,
                        metrics_token=metrics.get_secret_value() if metrics else None,
                        servers=(settings.database_url or "", settings.redis_url or ""))

            async def run(sessions: Sessions) -> tuple[list[Check], str]:
                return await rehearse(plan, sessions)

            checks, printed = with_database(settings, run)
    except ValueError as exc:
        print(f"rehearse: {exc}", file=sys.stderr)
        return 2
    print(printed)
    return 0 if all(check.go for check in checks) else 1


def positive(text: str) -> float:
    value = float(text)
    if not 0 < value:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def minutes(text: str) -> float:
    value = positive(text)
    if value > MAX_MINUTES:
        raise argparse.ArgumentTypeError(f"at most {MAX_MINUTES:g}")
    return value


def add(sub: Subcommands) -> None:
    rehearse = sub.add_parser("rehearse", help="drive a staging installation (sandbox providers, on this machine) "
                              "at 150%% of the expected peak through the web API, USSD and SMS, with viewers on the "
                              "board, and print go / no-go against the SLOs with the figures behind each")
    rehearse.add_argument("--url", default="http://127.0.0.1:8080", help="the installation (default: `make run`'s)")
    rehearse.add_argument("--peak", type=positive, required=True, help="the show's expected votes a second at its "
                          "busiest; 1.5 times this is offered")
    rehearse.add_argument("--minutes", type=minutes, required=True, help=f"how long (at most {MAX_MINUTES:g})")
    rehearse.add_argument("--viewers", type=int, default=10, help="viewers on the board's stream (default 10)")
    rehearse.add_argument("--contest", default="demo", help="the contest voted for (default demo)")
    rehearse.add_argument("--short-code", default="20123", help="the contest's SMS short code (default the demo's)")
    rehearse.add_argument("--allow-remote", action="store_true", help="aim at a host other than this machine")
    rehearse.set_defaults(func=cmd_rehearse)
