"""party, customer and account count their changes in row_version (as catalog does;
``version`` is a TMF attribute elsewhere)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:10:00
"""
from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TABLES = ('party', 'customer', 'account')


# RENAME COLUMN in place (PostgreSQL; SQLite 3.25+): a batch "copy and move" would drop
# and recreate ``party``, and its ON DELETE CASCADE would empty ``party_search_key``.


def upgrade() -> None:
    for table in TABLES:
        op.execute(f'ALTER TABLE {table} RENAME COLUMN version TO row_version')


def downgrade() -> None:
    for table in TABLES:
        op.execute(f'ALTER TABLE {table} RENAME COLUMN row_version TO version')
