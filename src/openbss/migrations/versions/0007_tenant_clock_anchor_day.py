"""test clocks keep their anchor day across month steps

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock_anchor_day', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_column('clock_anchor_day')
