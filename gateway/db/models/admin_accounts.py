"""The admin area's accounts, their refresh tokens, who organises which contest, and the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base


class AdminUser(Base):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    # The TOTP secret sealed with ADMIN_TOTP_KEYS (admin/totp_keys.py): backups and archived WAL never carry it in
    # clear. The clear column holds a secret of a release before sealing only until a web process's start (or
    # `gateway admin rotate-totp-key`) seals it; never both (migration 0036).
    totp_secret_clear: Mapped[str | None] = mapped_column("totp_secret", String(64))
    totp_secret_sealed: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(32), server_default="organiser")
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Admin area: TOTP confirmed at first sign-in, and a version every access token carries
    # (bumped on sign-out everywhere, password change, disabling). Failed sign-ins are counted in Redis.
    totp_confirmed_at: Mapped[datetime | None]
    token_version: Mapped[int] = mapped_column(Integer, server_default="0")
    # The last TOTP time step (30 s since the epoch) a sign-in used: its code and every older one are refused.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("totp_secret IS NULL OR totp_secret_sealed IS NULL", name="one_totp_secret"),)


# Admin area: refresh tokens (stored hashed, rotated, revocable by family) and contest organisers.
class AdminRefreshToken(Base):
    """One refresh token, by its SHA-256; a rotation marks it used and issues the next of its family."""

    __tablename__ = "admin_refresh_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    family: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ContestOrganiser(Base):
    """Which organiser runs which contest (an organiser sees and changes only their own)."""

    __tablename__ = "contest_organisers"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), primary_key=True)


class AuditEntry(Base):
    """Append-only: PostgreSQL refuses UPDATE and DELETE of a row (migration 0008) and TRUNCATE (0016)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    actor: Mapped[str] = mapped_column(String(254))  # an admin's email, or "system"
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Admin area: where the action came from, and the thing before and after it.
    address: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (Index("ix_audit_log_target", "target", "created_at"),)
