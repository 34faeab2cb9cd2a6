"""a contest's call for entries, candidates' entries and their uploaded files; a candidate's clip

Revision ID: 0020_video_entries
Revises: 0019_order_sends_receipt
Create Date: 2026-11-23 20:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0020_video_entries'
down_revision = '0019_order_sends_receipt'
branch_labels = None
depends_on = None

ENTRY_STATUS = postgresql.ENUM("pending", "approved", "rejected", name="entry_status", create_type=False)
UPLOAD_STATE = postgresql.ENUM("granted", "received", "ready", "refused", name="upload_state", create_type=False)
UPLOAD_KIND = postgresql.ENUM("clip", "photo", name="upload_kind", create_type=False)
NOW = sa.text("now()")


def upgrade() -> None:
    for enum in (ENTRY_STATUS, UPLOAD_STATE, UPLOAD_KIND):
        enum.create(op.get_bind())
    op.create_table(
        "entry_calls",
        sa.Column("contest_id", sa.Integer(), sa.ForeignKey("contests.id", ondelete="CASCADE",
                                                            name="fk_entry_calls_contest_id_contests"),
                  nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("max_entries", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("closes_at > opens_at", name="ck_entry_calls_closes_after_opens"),
        sa.PrimaryKeyConstraint("contest_id", name="pk_entry_calls"),
    )
    op.create_table(
        "media_uploads",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("contest_id", sa.Integer(), sa.ForeignKey("contests.id", ondelete="CASCADE",
                                                            name="fk_media_uploads_contest_id_contests"),
                  nullable=False),
        sa.Column("kind", UPLOAD_KIND, nullable=False),
        sa.Column("storage", sa.String(32), nullable=False),
        sa.Column("msisdn", sa.String(20), nullable=True),
        sa.Column("max_bytes", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", UPLOAD_STATE, server_default="granted", nullable=False),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("facts", postgresql.JSONB(), nullable=True),
        sa.Column("files", postgresql.JSONB(), nullable=True),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("max_bytes > 0", name="ck_media_uploads_max_bytes_positive"),
        sa.PrimaryKeyConstraint("id", name="pk_media_uploads"),
    )
    op.create_index("ix_media_uploads_contest_id", "media_uploads", ["contest_id"])
    op.create_index("ix_media_uploads_orphans", "media_uploads", ["created_at"],
                    postgresql_where=sa.text("attached_at IS NULL"))
    op.create_table(
        "entries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("contest_id", sa.Integer(), sa.ForeignKey("contests.id", ondelete="CASCADE",
                                                            name="fk_entries_contest_id_contests"),
                  nullable=False),
        sa.Column("status", ENTRY_STATUS, server_default="pending", nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("msisdn", sa.String(20), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("rules_accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clip_id", sa.UUID(), sa.ForeignKey("media_uploads.id", name="fk_entries_clip_id_media_uploads"),
                  nullable=False),
        sa.Column("photo_id", sa.UUID(), sa.ForeignKey("media_uploads.id",
                                                       name="fk_entries_photo_id_media_uploads"), nullable=True),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("candidate_id", sa.Integer(), sa.ForeignKey("candidates.id", ondelete="SET NULL",
                                                              name="fk_entries_candidate_id_candidates"),
                  nullable=True),
        sa.Column("decided_by", sa.String(320), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entries"),
    )
    op.create_index("ix_entries_contest_status", "entries", ["contest_id", "status", "created_at"])
    op.create_index("uq_entries_contest_msisdn_standing", "entries", ["contest_id", "msisdn"], unique=True,
                    postgresql_where=sa.text("status <> 'rejected'"))
    op.add_column("candidates", sa.Column("clip_id", sa.UUID(), nullable=True))
    op.create_foreign_key("fk_candidates_clip_id_media_uploads", "candidates", "media_uploads", ["clip_id"], ["id"],
                          ondelete="SET NULL")
    op.create_index("ix_candidates_clip_id", "candidates", ["clip_id"])


def downgrade() -> None:
    op.drop_index("ix_candidates_clip_id", "candidates")
    op.drop_constraint("fk_candidates_clip_id_media_uploads", "candidates", type_="foreignkey")
    op.drop_column("candidates", "clip_id")
    op.drop_table("entries")
    op.drop_table("media_uploads")
    op.drop_table("entry_calls")
    for enum in (UPLOAD_KIND, UPLOAD_STATE, ENTRY_STATUS):
        enum.drop(op.get_bind())
