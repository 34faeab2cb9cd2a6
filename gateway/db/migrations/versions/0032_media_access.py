"""a candidate's photo upload beside its clip, and when an upload's files were removed

Revision ID: 0032_media_access
Revises: 0031_entry_codes_per_contest
Create Date: 2026-11-26 10:00:00

What viewers may fetch without a signed link is what a shown candidate holds: its clip, and now its photo by id
(the entry's photo it was approved with), which an organiser's own photo lets go. The sweep removes the files of
uploads nothing holds any more (a rejected entry's, a replaced clip) a day after they were let go, and keeps the
row an entry still names, marked `removed_at`; it finds them by when they were let go (`updated_at`).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0032_media_access'
down_revision = '0031_entry_codes_per_contest'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("candidates", sa.Column("photo_id", sa.UUID(), nullable=True))
    op.create_foreign_key("fk_candidates_photo_id_media_uploads", "candidates", "media_uploads", ["photo_id"],
                          ["id"], ondelete="SET NULL")
    op.create_index("ix_candidates_photo_id", "candidates", ["photo_id"])
    op.create_index("ix_candidates_photo_url", "candidates", ["photo_url"])
    # The photo a candidate was approved with, where its photo is still that one.
    op.execute("UPDATE candidates c SET photo_id = e.photo_id FROM entries e WHERE e.candidate_id = c.id"
               " AND e.photo_id IS NOT NULL AND c.photo_url LIKE '%' || e.photo_id::text || '%'")
    op.add_column("media_uploads", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    # Rejected entries' files are let go now, swept a day later (rejecting lets them go from now on).
    op.execute("UPDATE media_uploads SET attached_at = NULL, updated_at = now() WHERE id IN ("
               "SELECT clip_id FROM entries WHERE status = 'rejected' UNION "
               "SELECT photo_id FROM entries WHERE status = 'rejected' AND photo_id IS NOT NULL)")
    op.drop_index("ix_media_uploads_orphans", table_name="media_uploads")
    op.create_index("ix_media_uploads_let_go", "media_uploads", ["updated_at"],
                    postgresql_where=sa.text("attached_at IS NULL AND removed_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_media_uploads_let_go", table_name="media_uploads")
    op.create_index("ix_media_uploads_orphans", "media_uploads", ["created_at"],
                    postgresql_where=sa.text("attached_at IS NULL"))
    op.drop_column("media_uploads", "removed_at")
    op.drop_index("ix_candidates_photo_url", table_name="candidates")
    op.drop_index("ix_candidates_photo_id", table_name="candidates")
    op.drop_constraint("fk_candidates_photo_id_media_uploads", "candidates", type_="foreignkey")
    op.drop_column("candidates", "photo_id")
