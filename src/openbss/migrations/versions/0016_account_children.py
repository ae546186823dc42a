"""account_children: a partial index on (tenant_id, parent_id) of accounts with a parent

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 13:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index('ix_account_children', ['tenant_id', 'parent_id'], unique=False,
                              sqlite_where=sa.text('parent_id IS NOT NULL'),
                              postgresql_where=sa.text('parent_id IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index('ix_account_children')
