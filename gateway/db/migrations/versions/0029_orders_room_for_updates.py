"""room on each page of vote_orders for the versions its start writes, so that those updates stay HOT

Revision ID: 0029_orders_room_for_updates
Revises: 0028_orders_by_day
Create Date: 2026-11-24 19:45:00

An order is updated twice within a second of its insert (the start's lease, then what the provider answered)
and once more when it is paid. On a full page each of those versions lands on another page, with a new entry in
every one of the table's ten indexes; with room on its own page (and no indexed column changed) PostgreSQL
writes it there alone (a HOT update) and prunes the dead versions as the page is read again. A setting only: the
pages already written are not rewritten, the new ones are filled to 70%.
"""
from __future__ import annotations

from alembic import op

revision = '0029_orders_room_for_updates'
down_revision = '0028_orders_by_day'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE vote_orders SET (fillfactor = 70)")


def downgrade() -> None:
    op.execute("ALTER TABLE vote_orders RESET (fillfactor)")
