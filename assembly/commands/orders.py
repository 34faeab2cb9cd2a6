"""`gateway reconcile | refund | review`: orders a person looks at or acts on."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.resources.http_client import provider_http_client
from assembly.settings import Settings
from gateway.core.errors import DomainError
from gateway.core.money import money_text

if TYPE_CHECKING:
    from gateway.core.oversight.review import ReviewItem
    from gateway.db.engine import Sessions


def parse_since(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `7d` -> a duration."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdecimal():
        raise argparse.ArgumentTypeError("use a number and a unit, e.g. 30m, 2h or 7d")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def cmd_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    """One reconciler pass by hand, printing every order it changed; or, `money`, the books against the
    providers (gateway.core.money_out.money_reconciliation)."""
    if args.what == "money":
        return cmd_reconcile_money(settings, args)
    from assembly.resources.providers import build_providers
    from gateway.core.money_in.reconciler import reconcile
    from gateway.jobs.redis_connections import async_client
    from gateway.kit.status_pacing import reconciler_pace

    async def run(sessions: Sessions) -> str:
        async with provider_http_client(15) as http, async_client(settings.redis_url or "") as redis:
            registry = build_providers(settings, http, redis=redis)
            try:
                since = datetime.now(UTC) - args.since if args.since else None
                report = await reconcile(sessions, registry, since=since, limit=args.limit,
                                         pace=reconciler_pace(redis))  # the worker's turns of the cap, shared
            finally:
                await registry.aclose()
        for order_id, outcome in report.changed:
            print(f"{order_id}  {outcome}")
        return report.summary()

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        print(with_database(settings, run))
    return 0


def cmd_reconcile_money(settings: Settings, args: argparse.Namespace) -> int:
    """Each day's books against each provider's word, then each account balance a provider tells against the
    books' movements since the last reading: 0 when they agree, 3 when a difference is listed."""
    from assembly.resources.providers import build_providers
    from gateway.core.money_out.balance_check import BalanceReport, check_balances
    from gateway.core.money_out.money_reconciliation import DayReport, reconcile_money
    from gateway.jobs.redis_connections import async_client
    from gateway.kit.status_pacing import spare_pace

    day = args.day or datetime.now(UTC).date()

    async def run(sessions: Sessions) -> list[tuple[DayReport, list[BalanceReport]]]:
        async with provider_http_client(15) as http, async_client(settings.redis_url or "") as redis:
            registry = build_providers(settings, http, redis=redis)
            reports = []
            try:
                for provider in args.provider or registry.names():
                    report = await reconcile_money(sessions, registry, provider, day,
                                                   spare_pace(redis, "money-check"))
                    # A difference found today may have moved money since the last reading; an older day's did not.
                    explains = report.new if day == datetime.now(UTC).date() else ()
                    reports.append((report, await check_balances(sessions, registry, provider, explains)))
            finally:
                await registry.aclose()
            return reports

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        reports = with_database(settings, run)
    for report, balances in reports:
        for gap in report.differences:
            print(gap.line())
        print(report.summary())
        for balance in balances:
            print(balance.line())
    found = any(report.differences or any(balance.gap for balance in balances) for report, balances in reports)
    return 3 if found else 0


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a day as YYYY-MM-DD") from None


def cmd_refund(settings: Settings, args: argparse.Namespace) -> int:
    """Refund one paid order (Stripe through its API; mobile money marked for a manual refund)."""
    import uuid

    from assembly.resources.providers import build_providers
    from gateway.core.money_out.refunds import request_refund

    async def run(sessions: Sessions) -> str:
        async with provider_http_client(15) as http:
            registry = build_providers(settings, http)
            try:
                outcome = await request_refund(sessions, registry, uuid.UUID(args.order_id), "cli")
            finally:
                await registry.aclose()
        return f"{outcome.status.value}: {outcome.message}"

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        print(with_database(settings, run))
    return 0


def cmd_review(settings: Settings, args: argparse.Namespace) -> int:
    """Every order that needs a person (flagged, paid twice, partly or to be refunded), with its provider events."""
    from assembly.channel_list import FAILED_MESSAGES
    from gateway.core.oversight.review import orders_to_review

    if args.count or args.reject:
        return decide_held(settings, args)
    with ExitStack() as stack:
        settings = with_services(settings, stack)
        items = with_database(settings, orders_to_review)
        undelivered = [with_database(settings, report.undelivered) for report in FAILED_MESSAGES]
    if args.json:
        print(json.dumps([dataclasses.asdict(item) for item in items], indent=2, default=json_value))
    else:
        print_review(items)
        for lines in undelivered:  # each channel's messages it finally failed to deliver, after the orders
            if lines:
                print("\n".join(lines))
    return 0


def decide_held(settings: Settings, args: argparse.Namespace) -> int:
    """A person's decision on an order held by a fraud rule: count its votes, or reject it (refund owed)."""
    import uuid

    from assembly.resources.providers import build_providers
    from gateway.core.fraud import holds
    from gateway.core.money_in.money_arrived import confirm_money_in
    from gateway.core.orders import tables

    if not args.reason:
        print("a decision needs --reason (it goes into the audit log)", file=sys.stderr)
        return 2
    order_id = uuid.UUID(args.count or args.reject)
    actor = f"cli:{getpass.getuser()}"

    async def run(sessions: Sessions) -> str:
        if args.count:
            await holds.release_held(sessions, order_id, actor=actor, reason=args.reason)
            return "counted"
        async with provider_http_client(15) as http:  # a rejection owes the money back: only money that came in
            registry = build_providers(settings, http)
            try:
                await confirm_money_in(sessions, registry, order_id)
                await holds.reject_held(sessions, order_id, actor=actor, reason=args.reason)
                provider = (await tables.get_order(sessions, order_id)).provider
                sends_refunds = registry.refunder(provider) is not None
            finally:
                await registry.aclose()
        # The order is owed back from here on, so `gateway refund` would refuse it: say who gives the money back.
        if sends_refunds:
            return f"rejected; {provider} sends the money back by itself (the worker's refunds pass)"
        return "rejected; pay the money back by hand, then record it in the review queue (refunded by hand)"

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        try:
            outcome = with_database(settings, run)
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 1
    print(f"order {order_id}: {outcome}")
    return 0


def json_value(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def print_review(items: list[ReviewItem]) -> None:
    if not items:
        print("No order needs a person.")
        return
    print(f"{len(items)} to review, the longest waiting first:")
    for item in items:
        print(f"\n{item.kind.value}  order {item.order_id}  (now {item.status.value}; noted {when(item.noted_at)})")
        paid = money_text(item.amount, item.currency)
        print(f"  {item.contest}, {item.quantity} vote(s), {paid} by {item.provider}, payer {item.voter or 'unknown'}")
        print(f"  reason: {item.reason}")
        for event in item.events:
            print(f"  event:  {when(event.received_at)}  {event.kind}  -> {event.outcome or 'no outcome'}")
        if not item.events:
            print("  event:  none received")


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def add(sub: Subcommands) -> None:
    reconcile_cmd = sub.add_parser("reconcile", help="re-check pending orders with their providers now; `money`: "
                                   "the day's books against the providers' records")
    reconcile_cmd.add_argument("what", nargs="?", choices=("orders", "money"), default="orders")
    reconcile_cmd.add_argument("--since", type=parse_since, help="only orders created this recently (30m, 2h, 7d)")
    reconcile_cmd.add_argument("--limit", type=int, default=1000)
    reconcile_cmd.add_argument("--day", type=parse_day, help="money: the day (UTC, YYYY-MM-DD; today by default)")
    reconcile_cmd.add_argument("--provider", action="append", help="money: only this provider (repeat for more)")
    reconcile_cmd.set_defaults(func=cmd_reconcile)
    refund_cmd = sub.add_parser("refund", help="refund a paid order (its votes leave the tally)")
    refund_cmd.add_argument("order_id")
    refund_cmd.set_defaults(func=cmd_refund)
    review_cmd = sub.add_parser("review", help="list the orders that need a person, with the reason and provider "
                                "events")
    review_cmd.add_argument("--json", action="store_true", help="print JSON instead of text")
    decision = review_cmd.add_mutually_exclusive_group()
    decision.add_argument("--count", metavar="ORDER_ID", help="count a held order's votes (once)")
    decision.add_argument("--reject", metavar="ORDER_ID", help="reject a held order: never counted, refund owed")
    review_cmd.add_argument("--reason", help="why (kept in the audit log with the decision)")
    review_cmd.set_defaults(func=cmd_review)
