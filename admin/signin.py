"""Signing in (password, then TOTP), rotating refresh tokens, signing out, and who an access token is.

Five wrong attempts in a row lock an account for 15 minutes (a wrong TOTP code counts); the web layer
also limits attempts per address. A refresh token is used once: its use issues the next of its family;
a second use of a rotated one (a stolen copy, or the thief's) revokes the whole family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin import tokens, totp
from admin.accounts import password_matches
from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.errors import DomainError
from gateway.db.models import AdminRefreshToken, AdminUser

Sessions = async_sessionmaker[AsyncSession]
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)



class SignInRefused(DomainError):
    status = 401
    code = "sign_in_refused"


class AccountLocked(DomainError):
    status = 429
    code = "account_locked"


@dataclass(frozen=True)
class Issued:
    """What a successful sign-in or refresh hands the client."""

    access_token: str
    refresh_token: str
    actor: Actor


@dataclass(frozen=True)
class NeedsEnrolment:
    """Password right, TOTP never confirmed: the page shows the QR code and asks for a first code."""

    admin_id: int
    email: str
    totp_uri: str


WRONG = "Wrong email, password or code."


async def sign_in(sessions: Sessions, key: bytes, email: str, password: str, code: str, address: str | None
                  ) -> Issued | NeedsEnrolment:
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        user = await session.scalar(select(AdminUser).where(AdminUser.email == email.strip().lower())
                                    .with_for_update())
        if user is None or not user.active:
            password_matches(DUMMY_HASH, password)  # the same time as a real check: no account oracle
            raise SignInRefused(WRONG)
        if user.locked_until is not None and user.locked_until > now:
            raise AccountLocked("Too many failed attempts: this account is locked for a while.")
        secret = user.totp_secret or ""
        if not password_matches(user.password_hash, password):
            await _failed(session, user, now, address)
        elif user.totp_confirmed_at is None:
            user.failed_signins = 0
            return NeedsEnrolment(user.id, user.email, totp.provisioning_uri(secret, user.email))
        elif (step := totp.accepted_step(secret, code, user.totp_last_step)) is None:
            await _failed(session, user, now, address)
        else:
            user.totp_last_step = step
            user.failed_signins = 0
            user.locked_until = None
            actor = Actor(user.id, user.email, user.role, address)
            await audit.record(session, actor, "admin.sign_in", user.email)
            return await _issue(session, key, user, uuid.uuid4(), actor, now)
    raise SignInRefused(WRONG)  # after the failure is committed


async def _failed(session: AsyncSession, user: AdminUser, now: datetime, address: str | None) -> None:
    user.failed_signins += 1
    if user.failed_signins >= MAX_FAILURES:
        user.locked_until = now + LOCKOUT
        user.failed_signins = 0
        await audit.record(session, Actor(user.id, user.email, user.role, address), "admin.locked", user.email,
                           details={"until": user.locked_until.isoformat()})


async def enrol(sessions: Sessions, key: bytes, admin_id: int, code: str, address: str | None) -> Issued:
    """Confirm the TOTP secret with a first code (the enrolment form carries a signed, short-lived ticket)."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        user = await session.get(AdminUser, admin_id, with_for_update=True)
        if user is None or not user.active or user.totp_confirmed_at is not None:
            raise SignInRefused("Sign in again.")
        if user.locked_until is not None and user.locked_until > now:
            raise AccountLocked("Too many failed attempts: this account is locked for a while.")
        step = totp.accepted_step(user.totp_secret or "", code, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            user.totp_confirmed_at = now
            user.failed_signins = 0
            actor = Actor(user.id, user.email, user.role, address)
            await audit.record(session, actor, "admin.totp_enrol", user.email)
            return await _issue(session, key, user, uuid.uuid4(), actor, now)
        await _failed(session, user, now, address)
    raise SignInRefused("That code is not the one your app shows now.")


async def _issue(session: AsyncSession, key: bytes, user: AdminUser, family: uuid.UUID, actor: Actor,
                 now: datetime) -> Issued:
    refresh = tokens.new_refresh_token()
    session.add(AdminRefreshToken(admin_id=user.id, family=family, token_hash=tokens.refresh_hash(refresh),
                                  expires_at=now + tokens.REFRESH_TTL))
    access = tokens.encode_access(key, tokens.AccessClaims(user.id, user.role, user.token_version, family), now)
    return Issued(access, refresh, actor)


async def refresh(sessions: Sessions, key: bytes, token: str, address: str | None) -> Issued:
    now = datetime.now(UTC)
    reused = False
    async with sessions.begin() as session:
        row = await session.scalar(select(AdminRefreshToken).where(
            AdminRefreshToken.token_hash == tokens.refresh_hash(token)).with_for_update())
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise SignInRefused("Sign in again.")
        if row.used_at is not None:  # a rotated token comes back: someone holds a copy
            await session.execute(update(AdminRefreshToken).where(
                AdminRefreshToken.family == row.family, AdminRefreshToken.revoked_at.is_(None)).values(revoked_at=now))
            user = await session.get(AdminUser, row.admin_id)
            if user is not None:
                await audit.record(session, Actor(user.id, user.email, user.role, address), "admin.token_reuse",
                                   user.email, details={"family": str(row.family)})
            reused = True
        else:
            user = await session.get(AdminUser, row.admin_id)
            if user is None or not user.active:
                raise SignInRefused("Sign in again.")
            row.used_at = now
            return await _issue(session, key, user, row.family, Actor(user.id, user.email, user.role, address), now)
    assert reused
    raise SignInRefused("Sign in again.")


async def sign_out(sessions: Sessions, actor: Actor, family: uuid.UUID) -> None:
    async with sessions.begin() as session:
        await session.execute(update(AdminRefreshToken).where(
            AdminRefreshToken.family == family, AdminRefreshToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC)))
        await audit.record(session, actor, "admin.sign_out", actor.email)


async def authenticate(sessions: Sessions, claims: tokens.AccessClaims, address: str | None) -> Actor:
    """The actor behind a valid access token, if its account is active, its version current and its
    session (refresh family) not revoked: a sign-out or a disabled account takes effect at once."""
    revoked = exists().where(AdminRefreshToken.family == claims.family, AdminRefreshToken.revoked_at.is_not(None))
    async with sessions() as session:
        row = (await session.execute(select(AdminUser.email, AdminUser.role, revoked).where(
            AdminUser.id == claims.admin_id, AdminUser.active.is_(True),
            AdminUser.token_version == claims.version))).first()
    if row is None or row[2]:
        raise SignInRefused("Sign in again.")
    return Actor(claims.admin_id, row[0], row[1], address)


# A real Argon2 hash (of a password nobody has): checking against it costs what a real check costs.
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$HsYXJ9IvKuQQrdkjR/RHhg$skdReetDytMBVsXDOQoMZLMKDzLMOgN2NIIZtpSk15g"


async def pending_totp_uri(sessions: Sessions, admin_id: int) -> str | None:
    """The enrolment QR code's URI again (after a wrong first code), while the secret is unconfirmed."""
    async with sessions() as session:
        user = await session.get(AdminUser, admin_id)
    if user is None or not user.active or user.totp_confirmed_at is not None or not user.totp_secret:
        return None
    return totp.provisioning_uri(user.totp_secret, user.email)
