"""`gateway admin create | rotate-totp-key`: the admin area's accounts, and the key their second factors are sealed
with."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from contextlib import ExitStack

from assembly.commands.services import Subcommands, with_database, with_services
from assembly.settings import Settings


def cmd_admin_create(settings: Settings, args: argparse.Namespace) -> int:
    from admin.accounts import NewAdmin, contests_exist, create_admin, give_contest
    from admin.totp_keys import totp_keys
    from gateway.db.engine import Sessions

    keys = totp_keys(settings)  # before the password's prompt: production without them makes nothing
    password = os.environ.get("GATEWAY_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    with ExitStack() as stack:
        settings = with_services(settings, stack)
        contests: list[str] = args.contest or []

        async def create(sessions: Sessions) -> NewAdmin:
            await contests_exist(sessions, contests)  # before the account: a typo makes nothing
            made = await create_admin(sessions, keys, args.email, password, args.role)
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


def cmd_admin_rotate_totp_key(settings: Settings, args: argparse.Namespace) -> int:
    """Every account's TOTP secret sealed again with the newest key of ADMIN_TOTP_KEYS (and those a release before
    kept in clear, sealed): after it, the keys after the first can be dropped."""
    from admin.accounts import CLI
    from admin.totp_keys import totp_keys
    from admin.totp_secrets import seal_secrets

    keys = totp_keys(settings)
    with ExitStack() as stack:
        settings = with_services(settings, stack)
        done = with_database(settings, lambda sessions: seal_secrets(sessions, keys, CLI, every_row=True))
    were_clear = f" ({done.were_clear} of them kept in clear until now)" if done.were_clear else ""
    print(f"{done.sealed} admin accounts' TOTP secrets sealed with the newest key of ADMIN_TOTP_KEYS{were_clear}")
    if done.unopened:
        print(f"not sealed again, no key of ADMIN_TOTP_KEYS opens their TOTP secret: {', '.join(done.unopened)}. "
              "List the key that sealed them (last) and run this again; keep the old keys until then.", file=sys.stderr)
        return 1
    return 0


def add(sub: Subcommands) -> None:
    admin_cmd = sub.add_parser("admin", help="admin accounts").add_subparsers(dest="admin_command", required=True)
    create = admin_cmd.add_parser("create", help="create an admin (password from GATEWAY_ADMIN_PASSWORD or a prompt)")
    create.add_argument("--email", required=True)
    create.add_argument("--role", default="owner", help="owner, organiser, auditor, support or jury")
    create.add_argument("--contest", action="append", metavar="SLUG",
                        help="a contest an organiser runs (repeat for more; they see only theirs)")
    create.set_defaults(func=cmd_admin_create)
    rotate = admin_cmd.add_parser(
        "rotate-totp-key", help="seal every admin's TOTP secret again with the first key of ADMIN_TOTP_KEYS (list "
        "the new key first, the old after it; run this; then drop the old)")
    rotate.set_defaults(func=cmd_admin_rotate_totp_key)
