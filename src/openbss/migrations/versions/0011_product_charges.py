"""product charges

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 04:18:13.337204
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openbss.core.db

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('product_charge',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('product_id', sa.String(length=32), nullable=False),
    sa.Column('billing_account_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('amount', openbss.core.db.ExactDecimal(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('at', openbss.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('order_item_id', sa.String(length=64), nullable=True),
    sa.Column('price_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('billed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_product_charge_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_charge'))
    )
    with op.batch_alter_table('product_charge', schema=None) as batch_op:
        batch_op.create_index('ix_product_charge_product', ['tenant_id', 'product_id'], unique=False)
        batch_op.create_index('ix_product_charge_unbilled', ['tenant_id', 'billed'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('product_charge', schema=None) as batch_op:
        batch_op.drop_index('ix_product_charge_unbilled')
        batch_op.drop_index('ix_product_charge_product')

    op.drop_table('product_charge')
