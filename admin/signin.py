"""Signing in (password, then TOTP), rotating refresh tokens, signing out, and who an access token is.

Failed attempts are counted per (email, address) and per email (admin/lockout.py): five from one address
refuse that email there for 15 minutes, many from everywhere slow the email down, and nobody elsewhere is locked
out. A refused, a locked and an unknown email get one answer after the same password-hash work; at a slowed email,
an attempt whose code is wrong gets that answer at once, whatever the email, without the hash. A refresh token is
used once: its use issues the next of its family; a second use of a rotated one (a stolen copy, or the thief's)
revokes the whole family.
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from admin import lockout, tokens, totp
from admin.accounts import password_matches
from admin.totp_keys import TotpKeys
from admin.totp_secrets import secret_of
from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.errors import DomainError
from gateway.db.engine import Sessions
from gateway.db.models import AdminRefreshToken, AdminUser


class SignInRefused(DomainError):
    status = 401
    code = "sign_in_refused"


@dataclass(frozen=True)
class Issued:
    """What a successful sign-in or refresh hands the client."""

    access_token: str
    refresh_token: str
    actor: Actor


@dataclass(frozen=True)
class NeedsEnrolment:
    """Password right, TOTP never confirmed: the client shows the QR code (or URI) and asks for a first code."""

    admin_id: int
    email: str
    totp_uri: str
    ticket: str  # the signed enrol ticket (admin/tokens.py) to post the first code with


WRONG = "Wrong email, password or code (after several wrong tries, wait 15 minutes)."
WRONG_FIRST_CODE = "That code is not the one your app shows now."


async def sign_in(sessions: Sessions, redis: Redis, key: bytes, totp_keys: TotpKeys, email: str, password: str,
                  code: str, address: str | None) -> Issued | NeedsEnrolment:
    email = email.strip().lower()
    before = await lockout.standing(redis, email, address)
    # No row lock and no connection held through the hash: attempts at a real email neither queue behind
    # each other (a timing oracle against unknown ones) nor drain the pool the votes need.
    async with sessions() as session:
        user = await session.scalar(select(AdminUser).where(AdminUser.email == email))
    known = user if user is not None and user.active else None
    secret = secret_of(known, totp_keys) if known is not None else None
    async with lockout.checking(redis, email) as calm:
        if not before.slowed and calm:
            return await _checked(sessions, redis, key, email, password, code, address, known, secret, before)
        # Slowed (or a burst not yet counted as such): a wrong code is refused before any hash or turn.
        lane = slowed_lane(known, secret, code)
        if lane is None:
            if not before.locked:
                async with sessions.begin() as session:
                    await _failed(session, redis, email, known, address)
            raise SignInRefused(WRONG)
        if not await lockout.wait_turn(redis, email, lane):
            raise SignInRefused(WRONG)
        return await _checked(sessions, redis, key, email, password, code, address, known, secret, before)


async def _checked(sessions: Sessions, redis: Redis, key: bytes, email: str, password: str, code: str,
                   address: str | None, known: AdminUser | None, secret: str | None, before: lockout.Standing
                   ) -> Issued | NeedsEnrolment:
    """The password check and, when right, the code (`secret`: the account's, opened); a failure is counted (unless
    the pair was locked already)."""
    now = datetime.now(UTC)
    # The same hash work whoever asks (a real account, a locked pair, an unknown email): no oracle.
    right = await asyncio.to_thread(password_matches, known.password_hash if known else DUMMY_HASH, password)
    async with sessions.begin() as session:
        if known is not None and secret is not None and right and not before.locked:
            if known.totp_confirmed_at is None:
                await lockout.clear(redis, email, address)
                ticket = tokens.enrol_ticket_for(key, known.id, known.token_version, secret, now)
                return NeedsEnrolment(known.id, known.email, totp.provisioning_uri(secret, known.email),
                                      tokens.encode_enrol_ticket(key, ticket))
            step = totp.accepted_step(secret, code, known.totp_last_step)
            if step is not None and await _use_step(session, known, step):
                await lockout.clear(redis, email, address)
                actor = Actor(known.id, known.email, known.role, address)
                await audit.record(session, actor, "admin.sign_in", known.email)
                return await _issue(session, key, known, uuid.uuid4(), actor, now)
        if not before.locked:
            await _failed(session, redis, email, known, address)
    raise SignInRefused(WRONG)  # after the failure is committed


def slowed_lane(known: AdminUser | None, secret: str | None, code: str) -> lockout.Lane | None:
    """Where an attempt at a slowed email (one failing from everywhere) waits for its password check: none for a
    code that is not a right one of an enrolled account (refused at once, whatever the email: a flood without the
    authenticator costs no hash and delays nobody); attempts with no code queue apart from those with a right one,
    so the owner's turn comes within a second however many others queue."""
    if not code.strip():
        return lockout.Lane.NO_CODE
    if known is None or known.totp_confirmed_at is None or not secret:
        return None
    right = totp.accepted_step(secret, code, known.totp_last_step) is not None
    return lockout.Lane.RIGHT_CODE if right else None


async def code_confirms(sessions: Sessions, totp_keys: TotpKeys, admin_id: int | None, code: str) -> bool:
    """Whether `code` is a fresh TOTP code of this account (of a later step than any it used), asked again for a
    decision that moves money; the step is used up, as a sign-in's is."""
    if admin_id is None:
        return False
    async with sessions.begin() as session:
        user = await session.get(AdminUser, admin_id)
        secret = secret_of(user, totp_keys) if user is not None else None
        if user is None or not user.active or not secret or user.totp_confirmed_at is None:
            return False
        step = totp.accepted_step(secret, code, user.totp_last_step)
        return step is not None and await _use_step(session, user, step)


async def _use_step(session: AsyncSession, user: AdminUser, step: int, confirmed_at: datetime | None = None
                    ) -> bool:
    """Record the code's time step, if no code of this or a later step was used meanwhile (nor the account
    disabled, its password changed or, when confirming, its secret confirmed or replaced): two requests
    with one code both read the old step, only one of them moves it."""
    where = [AdminUser.id == user.id, AdminUser.active.is_(True), AdminUser.token_version == user.token_version,
             or_(AdminUser.totp_last_step.is_(None), AdminUser.totp_last_step < step)]
    values: dict[str, object] = {"totp_last_step": step}
    if confirmed_at is not None:
        where += [AdminUser.totp_confirmed_at.is_(None),
                  AdminUser.totp_secret_sealed.is_not_distinct_from(user.totp_secret_sealed),
                  AdminUser.totp_secret_clear.is_not_distinct_from(user.totp_secret_clear)]
        values["totp_confirmed_at"] = confirmed_at
    used = await session.scalar(update(AdminUser).where(*where).values(values).returning(AdminUser.id)
                                .execution_options(synchronize_session=False))
    return used is not None


async def _failed(session: AsyncSession, redis: Redis, email: str, user: AdminUser | None, address: str | None
                  ) -> None:
    counted = await lockout.count_failure(redis, email, address)
    if user is None:
        return
    actor = Actor(user.id, user.email, user.role, address)
    if counted.locks_now:
        await audit.record(session, actor, "admin.locked", user.email,
                           details={"address": address, "minutes": lockout.WINDOW_SECONDS // 60})
    if counted.slows_now:
        await audit.record(session, actor, "admin.sign_in_slowed", user.email,
                           details={"failures": counted.everywhere, "minutes": lockout.WINDOW_SECONDS // 60})


async def enrol(sessions: Sessions, redis: Redis, key: bytes, totp_keys: TotpKeys, ticket: tokens.EnrolTicket,
                code: str, address: str | None) -> Issued:
    """Confirm the TOTP secret with a first code (the client carries the ticket a right password gave)."""
    now = datetime.now(UTC)
    pending = await _pending(sessions, key, totp_keys, ticket)
    if pending is None:
        raise SignInRefused("Sign in again.")
    user, secret = pending
    before = await lockout.standing(redis, user.email, address)
    if before.locked:
        raise SignInRefused(WRONG_FIRST_CODE)
    async with sessions.begin() as session:
        step = totp.accepted_step(secret, code, user.totp_last_step)
        if step is not None and await _use_step(session, user, step, confirmed_at=now):
            await lockout.clear(redis, user.email, address)
            actor = Actor(user.id, user.email, user.role, address)
            await audit.record(session, actor, "admin.totp_enrol", user.email)
            return await _issue(session, key, user, uuid.uuid4(), actor, now)
        await _failed(session, redis, user.email, user, address)
    raise SignInRefused(WRONG_FIRST_CODE)


async def _pending(sessions: Sessions, key: bytes, totp_keys: TotpKeys, ticket: tokens.EnrolTicket
                   ) -> tuple[AdminUser, str] | None:
    """The account a ticket is for and its secret (opened), while it is as it was when the password was right:
    active, same token_version (no password change since), the same secret and still unconfirmed (not enrolled
    since)."""
    async with sessions() as session:
        user = await session.get(AdminUser, ticket.admin_id)
    secret = secret_of(user, totp_keys) if user is not None else None
    if user is None or not user.active or user.totp_confirmed_at is not None or not secret:
        return None
    same_secret = hmac.compare_digest(tokens.secret_digest(key, secret), ticket.secret_digest)
    return (user, secret) if same_secret and user.token_version == ticket.version else None


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


async def pending_totp_uri(sessions: Sessions, key: bytes, totp_keys: TotpKeys, ticket: tokens.EnrolTicket
                           ) -> str | None:
    """The enrolment QR code's URI again (after a wrong first code), while the ticket still holds."""
    pending = await _pending(sessions, key, totp_keys, ticket)
    return None if pending is None else totp.provisioning_uri(pending[1], pending[0].email)
