"""Admin accounts: created from the CLI, passwords hashed with Argon2, a TOTP secret each, and roles.

Roles: `owner` (everything), `organiser` (their own contests), `auditor` (reads everything, changes
nothing), `support` (looks up orders, resends receipts); all but organisers watch the whole service's
control room. What each may do is `allowed` below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from admin import totp
from admin.totp_keys import TotpKeys
from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.errors import Conflict, DomainError, NotFound
from gateway.db.engine import Sessions
from gateway.db.models import AdminRefreshToken, AdminUser, Contest, ContestOrganiser

ROLES = ("owner", "organiser", "auditor", "support", "jury")
MIN_PASSWORD_LENGTH = 12
CLI = Actor(None, "cli", "owner")
_hasher = PasswordHasher()

# What each role may do. Organisers act on their own contests only (checked where a contest is named).
PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset({"contests.read", "contests.write", "orders.read", "orders.resend", "orders.refund",
                        "review.read", "review.decide", "audit.read", "accounts.manage", "blocks.read", "blocks.manage",
                        "results.sign", "exports.read", "money.manage", "payouts.request", "control.read"}),
    "organiser": frozenset({"contests.read", "contests.write", "orders.read", "payouts.request"}),
    "auditor": frozenset({"contests.read", "orders.read", "review.read", "audit.read", "blocks.read", "results.sign",
                          "exports.read", "control.read"}),
    "support": frozenset({"orders.read", "orders.resend", "blocks.read", "control.read"}),
    # A juror scores the candidates of the contests whose jury they sit on, and sees nothing else: no order, no money.
    "jury": frozenset({"jury.score"}),
}
PERMISSIONS = {role: granted | {"signed_in"} for role, granted in PERMISSIONS.items()}


def allowed(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


def check_new_account(email: str, password: str, role: str) -> str:
    """Return the normalised email, or raise with what is wrong."""
    email = email.strip().lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise DomainError(f"{email!r} is not an email address.", code="invalid_email", field="email")
    check_password(password)
    if role not in ROLES:
        raise DomainError(f"The role must be one of {', '.join(ROLES)}.", code="invalid_role", field="role")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
                          code="weak_password", field="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class NewAdmin:
    id: int
    email: str
    role: str
    totp_uri: str  # shown once: scanned now, or at the first sign-in from the page's QR code


async def create_admin(
    sessions: Sessions, totp_keys: TotpKeys, email: str, password: str, role: str = "owner",
    actor: Actor = CLI,
) -> NewAdmin:
    email = check_new_account(email, password, role)
    return await add_admin(sessions, totp_keys, email, hash_password(password), role, actor)


async def add_admin(sessions: Sessions, totp_keys: TotpKeys, email: str, password_hash: str, role: str,
                    actor: Actor = CLI) -> NewAdmin:
    """`create_admin` past the checks and the hashing (Argon2 at its full cost, ~0.1 s of CPU): `email` as
    `check_new_account` gave it back, `password_hash` as `hash_password` made it. The TOTP secret is kept sealed
    with the newest of `totp_keys`, shown once in the URI returned."""
    secret = totp.new_secret()
    async with sessions.begin() as session:
        if await session.scalar(select(AdminUser.id).where(AdminUser.email == email)) is not None:
            raise Conflict(f"An admin called {email} already exists.", code="admin_exists")
        user = AdminUser(email=email, password_hash=password_hash, role=role,
                         totp_secret_sealed=totp_keys.seal(secret))
        session.add(user)
        await session.flush()
        await audit.record(session, actor, "admin.create", email, after={"email": email, "role": role})
    return NewAdmin(user.id, email, role, totp.provisioning_uri(secret, email))


async def contests_exist(sessions: Sessions, slugs: list[str]) -> None:
    async with sessions() as session:
        found = set(await session.scalars(select(Contest.slug).where(Contest.slug.in_(slugs))))
    if missing := [slug for slug in slugs if slug not in found]:
        raise NotFound(f"No contest {', '.join(missing)}.", code="contest_not_found")


async def give_contest(sessions: Sessions, admin_id: int, slug: str, actor: Actor = CLI) -> None:
    """An organiser runs this contest too (they see and act on the contests they run only)."""
    async with sessions.begin() as session:
        contest_id = await session.scalar(select(Contest.id).where(Contest.slug == slug))
        if contest_id is None:
            raise NotFound(f"No contest {slug!r}.", code="contest_not_found")
        await session.execute(pg_insert(ContestOrganiser).values(contest_id=contest_id, admin_id=admin_id)
                              .on_conflict_do_nothing())
        await audit.record(session, actor, "admin.give_contest", f"contest:{contest_id}",
                           details={"admin_id": admin_id})


async def revoke_all(session: AsyncSession, admin_id: int) -> None:
    """End every session of an account: its refresh tokens revoked, its access tokens' version outdated."""
    now = datetime.now(UTC)
    await session.execute(update(AdminRefreshToken).where(
        AdminRefreshToken.admin_id == admin_id, AdminRefreshToken.revoked_at.is_(None)).values(revoked_at=now))
    await session.execute(update(AdminUser).where(AdminUser.id == admin_id).values(
        token_version=AdminUser.token_version + 1))


async def change_password(sessions: Sessions, actor: Actor, current: str, new: str) -> None:
    check_password(new)
    async with sessions.begin() as session:
        user = await session.get(AdminUser, actor.admin_id, with_for_update=True)
        if user is None or not password_matches(user.password_hash, current):
            raise DomainError("The current password is wrong.", code="wrong_password", field="current")
        user.password_hash = hash_password(new)
        await revoke_all(session, user.id)
        await audit.record(session, actor, "admin.password_change", user.email)


async def set_active(sessions: Sessions, actor: Actor, email: str, active: bool) -> None:
    """An owner disables (or enables again) an account; disabling ends its sessions at once."""
    async with sessions.begin() as session:
        user = await session.scalar(select(AdminUser).where(AdminUser.email == email.strip().lower())
                                    .with_for_update())
        if user is None:
            raise NotFound(f"No admin called {email}.")
        before = {"active": user.active}
        user.active = active
        if not active:
            await revoke_all(session, user.id)
        await audit.record(session, actor, "admin.enable" if active else "admin.disable", user.email,
                           before=before, after={"active": active})


async def list_admins(sessions: Sessions) -> list[AdminUser]:
    async with sessions() as session:
        return list((await session.scalars(select(AdminUser).order_by(AdminUser.email))).all())


async def set_active_by_id(sessions: Sessions, actor: Actor, admin_id: int,
                           active: bool) -> None:
    """`set_active` for the accounts page; an owner cannot disable their own account (nobody left to undo it)."""
    if admin_id == actor.admin_id:
        raise Conflict("You cannot disable your own account.", code="own_account")
    async with sessions() as session:
        email = await session.scalar(select(AdminUser.email).where(AdminUser.id == admin_id))
    if email is None:
        raise NotFound(f"No admin {admin_id}.")
    await set_active(sessions, actor, email, active)
