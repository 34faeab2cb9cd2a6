"""`gateway admin create`: the admin area's accounts."""

from __future__ import annotations

import argparse
import getpass
import os
from contextlib import ExitStack
from typing import TYPE_CHECKING

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.settings import Settings

if TYPE_CHECKING:
    pass


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


def add(sub: Subcommands) -> None:
    admin_cmd = sub.add_parser("admin", help="admin accounts").add_subparsers(dest="admin_command", required=True)
    create = admin_cmd.add_parser("create", help="create an admin (password from GATEWAY_ADMIN_PASSWORD or a prompt)")
    create.add_argument("--email", required=True)
    create.add_argument("--role", default="owner", help="owner, organiser, auditor or support")
    create.set_defaults(func=cmd_admin_create)
