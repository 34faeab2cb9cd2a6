"""The `gateway` command: run | web | worker | migrate | seed | admin | reconcile | refund | review | …"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from gateway.channel_list import CHANNELS, MIGRATIONS
from gateway.config import ConfigError, Settings, check_servers
from gateway.core.errors import DomainError
from gateway.embedded import export_urls, service_urls
from gateway.logs import json_wanted, setup_logging

if TYPE_CHECKING:
    from gateway.core import ledger
    from gateway.core.review import ReviewItem, UndeliveredSms
    from gateway.db.engine import Sessions

T = TypeVar("T")


def with_services(settings: Settings, stack: ExitStack) -> Settings:
    """Settings whose URLs point at real servers, starting embedded ones where none is configured."""
    check_servers(settings)
    if settings.database_url and settings.redis_url:
        return settings
    settings.gateway_data_dir.mkdir(parents=True, exist_ok=True)
    urls = stack.enter_context(service_urls(settings.database_url, settings.redis_url, settings.gateway_data_dir))
    export_urls(urls)
    return settings.model_copy(update={"database_url": urls.database_url, "redis_url": urls.redis_url})


def with_database(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    from gateway.db.engine import create_engine, session_factory

    async def main() -> T:
        engine = create_engine(settings.database_url or "", pool_size=1)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.supervisor import run_everything

    return run_everything(settings)


def cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    import uvloop
    from aiohttp import web

    from gateway.app import create_app, freeze_startup_objects

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        app = create_app(settings)
        # Once every context has started (pools, clients, caches), not before: those live for the whole process.
        app.on_startup.append(freeze_startup_objects)
        web.run_app(app, host=args.host or settings.gateway_host, port=args.port or settings.gateway_port,
                    reuse_port=True, print=None, access_log=None, handle_signals=True, loop=uvloop.new_event_loop())
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.worker import run_worker

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        run_worker(settings.redis_url or "", with_cron=not args.no_cron, burst=args.burst)
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.db.migrate import upgrade

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        upgrade(settings.database_url or "", MIGRATIONS)
    print("database is at the latest schema")
    return 0


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.db.seed import seed_demo

    if not args.demo:
        print("nothing to seed: pass --demo", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        settings = with_services(settings, stack)
        contest = with_database(settings, seed_demo)
    print(f"demo contest ready: /api/v1/contests/{contest.slug}")
    return 0


def parse_since(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `7d` -> a duration."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdecimal():
        raise argparse.ArgumentTypeError("use a number and a unit, e.g. 30m, 2h or 7d")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def cmd_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    """One reconciler pass by hand, printing every order it changed."""
    import httpx
    from redis.asyncio import Redis

    from gateway.jobs.reconciler import reconcile
    from gateway.jobs.status_pacing import reconciler_pace
    from payments.registry import build_registry

    async def run(sessions: Sessions) -> str:
        async with httpx.AsyncClient(timeout=15) as http, Redis.from_url(settings.redis_url or "") as redis:
            registry = build_registry(settings, http)
            try:
                since = datetime.now(UTC) - args.since if args.since else None
                report = await reconcile(sessions, registry, since=since, limit=args.limit,
                                         pace=reconciler_pace(redis))  # the worker's share of the cap, shared
            finally:
                await registry.aclose()
        for order_id, outcome in report.changed:
            print(f"{order_id}  {outcome}")
        return report.summary()

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        print(with_database(settings, run))
    return 0


def cmd_refund(settings: Settings, args: argparse.Namespace) -> int:
    """Refund one paid order (Stripe through its API; mobile money marked for a manual refund)."""
    import uuid

    import httpx

    from gateway.core.payments.refunds import request_refund
    from payments.registry import build_registry

    async def run(sessions: Sessions) -> str:
        async with httpx.AsyncClient(timeout=15) as http:
            registry = build_registry(settings, http)
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
    from gateway.core.review import orders_to_review, undelivered_sms

    if args.count or args.reject:
        return decide_held(settings, args)
    with ExitStack() as stack:
        settings = with_services(settings, stack)
        items = with_database(settings, orders_to_review)
        undelivered = with_database(settings, undelivered_sms)  # SMS voting
    if args.json:
        print(json.dumps([dataclasses.asdict(item) for item in items], indent=2, default=json_value))
    else:
        print_review(items)
        print_undelivered_sms(undelivered)
    return 0


def decide_held(settings: Settings, args: argparse.Namespace) -> int:
    """A person's decision on an order held by a fraud rule: count its votes, or reject it (refund owed)."""
    import uuid

    from gateway.core import holds
    from gateway.core.errors import DomainError

    if not args.reason:
        print("a decision needs --reason (it goes into the audit log)", file=sys.stderr)
        return 2
    decide = holds.release_held if args.count else holds.reject_held
    order_id = uuid.UUID(args.count or args.reject)
    actor = f"cli:{getpass.getuser()}"
    with ExitStack() as stack:
        settings = with_services(settings, stack)
        try:
            with_database(settings, lambda sessions: decide(sessions, order_id, actor=actor, reason=args.reason))
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 1
    print(f"order {order_id}: {'counted' if args.count else 'rejected; refund it with `gateway refund`'}")
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
        print(f"  {item.contest}, {item.quantity} vote(s), {item.amount} {item.currency} by {item.provider}, "
              f"payer {item.voter or 'unknown'}")
        print(f"  reason: {item.reason}")
        for event in item.events:
            print(f"  event:  {when(event.received_at)}  {event.kind}  -> {event.outcome or 'no outcome'}")
        if not item.events:
            print("  event:  none received")


# SMS voting: messages AT finally failed to deliver, after the orders.
def print_undelivered_sms(messages: list[UndeliveredSms]) -> None:
    if not messages:
        return
    print(f"\n{len(messages)} SMS not delivered, the oldest first:")
    for m in messages:
        order = f"order {m.order_id}" if m.order_id else "reply"
        print(f"  {when(m.updated_at)}  {m.kind} to {m.msisdn} ({order}): {m.status} {m.failure_reason or ''}".rstrip())


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def cmd_leaderboard_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Rebuild every contest's cached board in Redis from PostgreSQL."""
    from redis.asyncio import Redis

    from leaderboard.rebuild import rebuild_all

    async def run(sessions: Sessions) -> dict[str, int]:
        redis = Redis.from_url(settings.redis_url or "")
        try:
            return await rebuild_all(sessions, redis)
        finally:
            await redis.aclose()

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        rebuilt = with_database(settings, run)
    for slug, version in rebuilt.items():
        print(f"{slug}: rebuilt at version {version}")
    return 0


# The vote ledger and signed results
def cmd_ledger_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Recompute each contest's chain and tallies; exit 1 at the first broken one."""
    from sqlalchemy import select

    from gateway.core import ledger
    from gateway.db.models import Contest

    async def run(sessions: Sessions) -> list[ledger.LedgerReport]:
        async with sessions() as session:
            query = select(Contest.id).order_by(Contest.id)
            ids = list(await session.scalars(query.where(Contest.slug == args.contest) if args.contest else query))
        if args.contest and not ids:
            raise DomainError(f"No contest is called {args.contest!r}.", code="contest_not_found")
        return [await ledger.verify(sessions, contest_id) for contest_id in ids]

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        reports = with_database(settings, run)
    for report in reports:
        print_ledger_report(report)
    return 0 if all(report.clean for report in reports) else 1


def print_ledger_report(report: ledger.LedgerReport) -> None:
    if report.clean:
        print(f"{report.contest_slug}: ok, {report.entries} entries, head {report.head.hex()}")
        return
    print(f"{report.contest_slug}: BROKEN")
    if report.broken is not None:
        print(f"  first broken entry: {report.broken.seq} ({report.broken.reason}); "
              f"{report.entries} entries before it are whole")
    for problem in report.problems:
        print(f"  {problem}")


def cmd_results_sign(settings: Settings, args: argparse.Namespace) -> int:
    """Sign a contest's results now; the sheet and its signature are kept and written to files."""
    from pathlib import Path

    from gateway.core import catalog, results
    from gateway.results_key import signing_key

    key = signing_key(settings)

    async def run(sessions: Sessions) -> results.SignedSheet:
        contest = await catalog.contest_by_slug(sessions, args.contest)
        return await results.sign_results(sessions, key, contest.id, reason="on_demand", signed_by="cli")

    with ExitStack() as stack:
        settings = with_services(settings, stack)
        signed = with_database(settings, run)
    sheet_path = Path(args.out or f"{signed.contest_slug}-results.csv")
    signature_path = sheet_path.with_name(sheet_path.name + ".sig")
    sheet_path.write_bytes(signed.sheet)
    signature_path.write_bytes(signed.signature)
    print(f"signed {sheet_path} ({signed.entries} ledger entries); signature in {signature_path}")
    return 0


def cmd_results_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Check a sheet against its detached signature, offline: with --key, or this installation's own key."""
    from pathlib import Path

    from gateway.core import results
    from gateway.results_key import signing_key

    try:
        sheet, signature = Path(args.sheet).read_bytes(), Path(args.signature).read_bytes()
        public = (results.public_key(Path(args.key).read_bytes()) if args.key
                  else signing_key(settings).public_key())
    except (OSError, results.BadKey) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    if results.signature_holds(public, sheet, signature):
        print(f"{args.sheet}: the signature is good")
        return 0
    print(f"{args.sheet}: BAD SIGNATURE (the sheet was changed, or signed with another key)")
    return 1


def cmd_results_key(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.core import results
    from gateway.results_key import signing_key

    print(results.public_pem(signing_key(settings).public_key()), end="")
    return 0


def cmd_admin_create(settings: Settings, args: argparse.Namespace) -> int:
    from admin.accounts import create_admin

    password = os.environ.get("GATEWAY_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    with ExitStack() as stack:
        settings = with_services(settings, stack)
        user = with_database(settings, lambda s: create_admin(s, args.email, password, args.role))
    from admin.totp import terminal_qr

    print(f"admin {user.email} created with role {user.role}")
    # Admin area: the TOTP secret, shown once; the first sign-in shows it again until confirmed.
    print(f"Scan this in an authenticator app (or enter the URI):\n{user.totp_uri}")
    print(terminal_qr(user.totp_uri))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="Ballot mobile-money voting gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="everything: embedded servers, migrations, demo, web, worker").set_defaults(
        func=cmd_run)
    web_cmd = sub.add_parser("web", help="the aiohttp web process")
    web_cmd.add_argument("--host")
    web_cmd.add_argument("--port", type=int)
    web_cmd.set_defaults(func=cmd_web)
    worker_cmd = sub.add_parser("worker", help="the RQ worker and its scheduler")
    worker_cmd.add_argument("--burst", action="store_true", help="work until the queues are empty, then exit")
    worker_cmd.add_argument("--no-cron", action="store_true", help="do not run the periodic jobs")
    worker_cmd.set_defaults(func=cmd_worker)
    reconcile_cmd = sub.add_parser("reconcile", help="re-check pending orders with their providers now")
    reconcile_cmd.add_argument("--since", type=parse_since, help="only orders created this recently (30m, 2h, 7d)")
    reconcile_cmd.add_argument("--limit", type=int, default=1000)
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
    for parts in CHANNELS:  # each channel's own commands (gateway ussd, gateway sms, gateway telegram, …)
        if parts.commands is not None:
            parts.commands(sub)
    board_cmd = sub.add_parser("leaderboard", help="the live leaderboard").add_subparsers(
        dest="leaderboard_command", required=True)
    board_cmd.add_parser("rebuild", help="rebuild the Redis boards from PostgreSQL").set_defaults(
        func=cmd_leaderboard_rebuild)
    ledger_cmd = sub.add_parser("ledger", help="the vote ledger").add_subparsers(dest="ledger_command", required=True)
    ledger_verify = ledger_cmd.add_parser("verify", help="recompute the hash chain and the tallies from it; exit 1 "
                                          "and name the first broken entry if they do not hold")
    ledger_verify.add_argument("--contest", metavar="SLUG", help="one contest (default: all)")
    ledger_verify.set_defaults(func=cmd_ledger_verify)
    results_cmd = sub.add_parser("results", help="signed results sheets").add_subparsers(
        dest="results_command", required=True)
    results_sign = results_cmd.add_parser("sign", help="sign a contest's results sheet now (kept, and written out)")
    results_sign.add_argument("--contest", metavar="SLUG", required=True)
    results_sign.add_argument("--out", help="the sheet's file (default: SLUG-results.csv; the signature: +.sig)")
    results_sign.set_defaults(func=cmd_results_sign)
    results_verify = results_cmd.add_parser("verify", help="check a sheet against its signature, offline")
    results_verify.add_argument("sheet")
    results_verify.add_argument("signature")
    results_verify.add_argument("--key", help="the public key file (PEM, or base64 of 32 bytes); default: "
                                "this installation's key")
    results_verify.set_defaults(func=cmd_results_verify)
    results_cmd.add_parser("key", help="print the public key (PEM)").set_defaults(func=cmd_results_key)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(func=cmd_migrate)
    seed_cmd = sub.add_parser("seed", help="create demo data")
    seed_cmd.add_argument("--demo", action="store_true", help="the demo contest (idempotent)")
    seed_cmd.set_defaults(func=cmd_seed)
    admin_cmd = sub.add_parser("admin", help="admin accounts").add_subparsers(dest="admin_command", required=True)
    create = admin_cmd.add_parser("create", help="create an admin (password from GATEWAY_ADMIN_PASSWORD or a prompt)")
    create.add_argument("--email", required=True)
    create.add_argument("--role", default="owner", help="owner, organiser, auditor or support")
    create.set_defaults(func=cmd_admin_create)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's message names the bad setting
        print(f"gateway: invalid settings: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, json=json_wanted(settings))
    try:
        return int(args.func(settings, args) or 0)
    except (ConfigError, DomainError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
