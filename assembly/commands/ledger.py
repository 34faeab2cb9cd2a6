"""`gateway ledger verify` and `gateway results sign | verify | key`: the vote ledger and signed results."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.settings import Settings
from gateway.core.errors import DomainError

if TYPE_CHECKING:
    from gateway.core.results import ledger
    from gateway.db.engine import Sessions


# The vote ledger and signed results
def cmd_ledger_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Recompute each contest's chain and tallies; exit 1 at the first broken one."""
    from sqlalchemy import select

    from gateway.core.results import ledger
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

    from assembly.resources.results_key import signing_key
    from gateway.core.contests import catalog
    from gateway.core.results import signing

    key = signing_key(settings)

    async def run(sessions: Sessions) -> signing.SignedSheet:
        contest = await catalog.contest_by_slug(sessions, args.contest)
        return await signing.sign_results(sessions, key, contest.id, reason="on_demand", signed_by="cli")

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

    from assembly.resources.results_key import installed_key
    from gateway.core.results import signing

    try:
        sheet, signature = Path(args.sheet).read_bytes(), Path(args.signature).read_bytes()
        public = (signing.public_key(Path(args.key).read_bytes()) if args.key
                  else installed_key(settings).public_key())
    except (OSError, signing.BadKey) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    if signing.signature_holds(public, sheet, signature):
        print(f"{args.sheet}: the signature is good")
        return 0
    print(f"{args.sheet}: BAD SIGNATURE (the sheet was changed, or signed with another key)")
    return 1


def cmd_results_key(settings: Settings, args: argparse.Namespace) -> int:
    from assembly.resources.results_key import signing_key
    from gateway.core.results import signing

    print(signing.public_pem(signing_key(settings).public_key()), end="")
    return 0


def add(sub: Subcommands) -> None:
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
