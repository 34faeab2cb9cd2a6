"""Admin accounts: created from the CLI, passwords hashed with Argon2."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.core.errors import Conflict, DomainError
from gateway.db.models import AdminUser, AuditEntry

ROLES = ("owner", "organiser", "viewer")
MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()


def check_new_account(email: str, password: str, role: str) -> str:
    """Return the normalised email, or raise with what is wrong."""
    email = email.strip().lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise DomainError(f"{email!r} is not an email address.", code="invalid_email", field="email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
                          code="weak_password", field="password")
    if role not in ROLES:
        raise DomainError(f"The role must be one of {', '.join(ROLES)}.", code="invalid_role", field="role")
    return email


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def create_admin(
    sessions: async_sessionmaker[AsyncSession], email: str, password: str, role: str = "owner"
) -> AdminUser:
    email = check_new_account(email, password, role)
    async with sessions.begin() as session:
        if await session.scalar(select(AdminUser.id).where(AdminUser.email == email)) is not None:
            raise Conflict(f"An admin called {email} already exists.", code="admin_exists")
        user = AdminUser(email=email, password_hash=hash_password(password), role=role)
        session.add(user)
        await session.execute(insert(AuditEntry).values(actor="cli", action="admin.create", target=email))
    return user
