"""Each admin account's TOTP secret as a sign-in needs it (opened), and the rows sealed: the ones a release before
sealing kept in clear, at every web process's start; every row again with the newest key, by
`gateway admin rotate-totp-key`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from admin.settings import SETTING
from admin.totp_keys import TOTP_KEYS, SealedWithAnotherKey, TotpKeys
from gateway.core import audit
from gateway.core.audit import Actor
from gateway.db.engine import Sessions
from gateway.db.models import AdminUser
from gateway.kit.keys import SESSIONS

log = logging.getLogger(__name__)


def secret_of(user: AdminUser, keys: TotpKeys) -> str | None:
    """The account's secret in clear; None when it has none, or when no listed key opens it (said in the log: the
    account cannot sign in until its key is listed again)."""
    if user.totp_secret_sealed is not None:
        try:
            return keys.open(user.totp_secret_sealed)
        except SealedWithAnotherKey:
            log.error("%s's TOTP secret is sealed with a key %s no longer lists: it cannot sign in until that key "
                      "is listed again (last), then `gateway admin rotate-totp-key` seals it with the newest",
                      user.email, SETTING)
            return None
    return user.totp_secret_clear


@dataclass(frozen=True)
class Sealing:
    sealed: int  # rows now sealed with the newest key
    were_clear: int  # of which, kept in clear until now
    unopened: tuple[str, ...]  # the accounts whose secret no listed key opens: left as they were


async def seal_secrets(sessions: Sessions, keys: TotpKeys, actor: Actor, *, every_row: bool) -> Sealing:
    """Seal the secrets kept in clear with the newest key, and with `every_row` the sealed ones again too. A row
    another process changed meanwhile is left to it (each update names the value it replaces)."""
    clear, sealed = AdminUser.totp_secret_clear, AdminUser.totp_secret_sealed
    chosen = or_(clear.is_not(None), sealed.is_not(None)) if every_row else clear.is_not(None)
    async with sessions() as session:
        rows = (await session.execute(select(AdminUser.id, AdminUser.email, clear, sealed).where(chosen)
                                      .order_by(AdminUser.id))).all()
    done, were_clear, unopened = 0, 0, []
    async with sessions.begin() as session:
        for admin_id, email, in_clear, was_sealed in rows:
            try:
                now_sealed = keys.seal(in_clear) if in_clear is not None else keys.reseal(was_sealed or "")
            except SealedWithAnotherKey:
                unopened.append(email)
                continue
            changed = await session.scalar(
                update(AdminUser).where(AdminUser.id == admin_id, clear.is_not_distinct_from(in_clear),
                                        sealed.is_not_distinct_from(was_sealed))
                .values({clear: None, sealed: now_sealed}).returning(AdminUser.id)
                .execution_options(synchronize_session=False))
            done += changed is not None
            were_clear += changed is not None and in_clear is not None
        if done:
            await audit.record(session, actor, "admin.totp_seal", None,
                               details={"sealed": done, "were_clear": were_clear, "every_row": every_row})
    return Sealing(done, were_clear, tuple(unopened))


STARTUP = Actor(None, "system", "owner")


async def sealing_ctx(app: web.Application) -> AsyncIterator[None]:
    """At a web process's start, the secrets a release before kept in clear are sealed (every process tries: the
    first does it, the others find none). A database away at start does not stop the process: sign-ins read a
    clear secret still, and the next start seals it."""
    try:
        done = await seal_secrets(app[SESSIONS], app[TOTP_KEYS], STARTUP, every_row=False)
    except (SQLAlchemyError, OSError) as exc:
        # The error's kind only: a driver's message may quote the values it was given, here clear secrets.
        log.warning("the admin accounts' TOTP secrets kept in clear were not sealed at start: %s",
                    type(exc).__name__)
    else:
        if done.sealed:
            log.info("sealed %d admin accounts' TOTP secrets kept in clear", done.sealed)
    yield
