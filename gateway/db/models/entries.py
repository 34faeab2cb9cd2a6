"""A contest's call for entries, the entries candidates send, and the files they upload (media_uploads).

An upload is a row before it is a file: the service grants it (a random id, a size limit, an expiry), the
storage receives it, a job probes and transcodes it, and an entry or a candidate holds it. Files nothing holds
(never attached, replaced, a rejected entry's) are removed a day after they were let go (gateway.core.media.uploads)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db.models.base import Base, enum_column


class EntryCall(Base):
    """A contest takes entries between these dates, under these rules (text the candidate accepts)."""

    __tablename__ = "entry_calls"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), primary_key=True)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    rules: Mapped[str] = mapped_column(Text)
    max_entries: Mapped[int | None] = mapped_column(Integer)  # None: no limit
    # What entering costs, in minor units of the contest's currency, paid like a vote (None: entering is free).
    fee_amount: Mapped[int | None] = mapped_column(BigInteger)
    # Codes texted a day to numbers entering it, at most (None: the service's default); never more than the
    # service's ceiling (ENTRY_CODES_PER_DAY), whatever this says.
    codes_per_day: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="closes_after_opens"),
        CheckConstraint("fee_amount IS NULL OR fee_amount > 0", name="fee_positive"),
        CheckConstraint("codes_per_day IS NULL OR codes_per_day > 0", name="codes_per_day_positive"),
    )


class EntryStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class UploadState(StrEnum):
    GRANTED = "granted"  # the browser may upload
    RECEIVED = "received"  # the storage has the whole file
    READY = "ready"  # probed (and transcoded where the storage does not)
    REFUSED = "refused"  # not a clip we take: `refusal` says why, for the candidate


class UploadKind(StrEnum):
    CLIP = "clip"
    PHOTO = "photo"


class MediaUpload(Base):
    __tablename__ = "media_uploads"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"), index=True)
    kind: Mapped[UploadKind] = mapped_column(enum_column(UploadKind, "upload_kind"))
    storage: Mapped[str] = mapped_column(String(32))  # the provider holding it (gateway.core.media_storage)
    msisdn: Mapped[str | None] = mapped_column(String(20))  # the proven number it was granted to
    max_bytes: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime]  # of the grant
    state: Mapped[UploadState] = mapped_column(enum_column(UploadState, "upload_state"),
                                               server_default=UploadState.GRANTED.value)
    refusal: Mapped[str | None] = mapped_column(Text)  # why, in words the candidate reads (media.clip_rules)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    # What the probe found (duration, dimensions, codecs), and the files made from it: {"360p": {"key": …,
    # "content_type": "video/mp4"}, "720p": …, "poster": …, "preview": …} or {"photo": …}.
    facts: Mapped[dict[str, Any] | None]
    files: Mapped[dict[str, Any] | None]
    attached_at: Mapped[datetime | None]  # when an entry or a candidate took it; None again once let go
    removed_at: Mapped[datetime | None]  # its files removed by the sweep (the row an entry names is kept)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        CheckConstraint("max_bytes > 0", name="max_bytes_positive"),
        # The sweep's: uploads nothing holds, by when they were let go (updated_at).
        Index("ix_media_uploads_let_go", "updated_at",
              postgresql_where=text("attached_at IS NULL AND removed_at IS NULL")),
    )


class Entry(Base):
    """A candidate's entry: pending until an organiser approves it (it becomes a candidate) or rejects it."""

    __tablename__ = "entries"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id", ondelete="CASCADE"))
    status: Mapped[EntryStatus] = mapped_column(enum_column(EntryStatus, "entry_status"),
                                                server_default=EntryStatus.PENDING.value)
    name: Mapped[str] = mapped_column(String(200))
    bio: Mapped[str | None] = mapped_column(Text)
    msisdn: Mapped[str] = mapped_column(String(20))  # E.164, proven by a one-time code
    language: Mapped[str] = mapped_column(String(2))  # of the messages the candidate gets
    rules_accepted_at: Mapped[datetime]
    clip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("media_uploads.id"))
    photo_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media_uploads.id"))
    # A digest of the private link the candidate keeps to follow the entry and replace the clip.
    token_digest: Mapped[str] = mapped_column(String(64))
    # When its fee's payment was confirmed (set by the statement that confirms it; None: unpaid, or no fee).
    fee_paid_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)  # why it was rejected, as the candidate is told
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="SET NULL"))
    decided_by: Mapped[str | None] = mapped_column(String(320))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        Index("ix_entries_contest_status", "contest_id", "status", "created_at"),
        # One entry standing per number and contest (a rejected one may be followed by another).
        Index("uq_entries_contest_msisdn_standing", "contest_id", "msisdn", unique=True,
              postgresql_where=text("status <> 'rejected'")),
    )
