"""`gateway admin create`: the admin area's accounts."""

from __future__ import annotations

import argparse
import getpass
import os
from contextlib import ExitStack

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.settings import Settings


def cmd_admin_create(settings: Settings, args: argparse.Namespace) -> int:
    from admin.accounts import NewAdmin, contests_exist, create_admin, give_contest
    from gateway.db.engine import Sessions

    password = os.environ.get("GATEWAY_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    with ExitStack() as stack:
        settings = with_services(settings, stack)
        contests: list[str] = args.contest or []

        async def create(sessions: Sessions) -> NewAdmin:
            await contests_exist(sessions, contests)  # before the account: a typo makes nothing
            made = await create_admin(sessions, args.email, password, args.role)
            for slug in contests:
                await give_contest(sessions, made.id, slug)
            return made

        user = with_database(settings, create)
    from admin.totp import terminal_qr

    print(f"admin {user.email} created with role {user.role}"
          + (f", running {', '.join(args.contest)}" if args.contest else ""))
    # Admin area: the TOTP secret, shown once; the first sign-in shows it again until confirmed.
    print(f"Scan this in an authenticator app (or enter the URI):\n{user.totp_uri}")
    print(terminal_qr(user.totp_uri))
    return 0


def add(sub: Subcommands) -> None:
    admin_cmd = sub.add_parser("admin", help="admin accounts").add_subparsers(dest="admin_command", required=True)
    create = admin_cmd.add_parser("create", help="create an admin (password from GATEWAY_ADMIN_PASSWORD or a prompt)")
    create.add_argument("--email", required=True)
    create.add_argument("--role", default="owner", help="owner, organiser, auditor or support")
    create.add_argument("--contest", action="append", metavar="SLUG",
                        help="a contest an organiser runs (repeat for more; they see only theirs)")
    create.set_defaults(func=cmd_admin_create)
