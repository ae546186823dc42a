"""product inventory

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:48:00.462597
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openbss.core.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('product',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('billing_account_id', sa.String(length=64), nullable=True),
    sa.Column('offering_id', sa.String(length=64), nullable=True),
    sa.Column('offering_version', sa.String(length=32), nullable=True),
    sa.Column('parent_id', sa.String(length=32), nullable=True),
    sa.Column('start_date', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('termination_date', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_update', openbss.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_product_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product'))
    )
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.create_index('ix_product_tenant_account', ['tenant_id', 'billing_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_product_tenant_status', ['tenant_id', 'status'], unique=False)

    op.create_table('product_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('product_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', openbss.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('change', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('before', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=True),
    sa.Column('after', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=True),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('order_item_id', sa.String(length=64), nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_product_history_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_history'))
    )
    with op.batch_alter_table('product_history', schema=None) as batch_op:
        batch_op.create_index('ix_product_history_product', ['tenant_id', 'product_id', 'seq'], unique=False)

    op.create_table('product_identifier',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('product_id', sa.String(length=32), nullable=False),
    sa.Column('valid_from', openbss.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_product_identifier_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_identifier'))
    )
    with op.batch_alter_table('product_identifier', schema=None) as batch_op:
        batch_op.create_index('ix_product_identifier_lookup', ['tenant_id', 'name', 'value', 'valid_from'], unique=False)
        batch_op.create_index('ix_product_identifier_product', ['tenant_id', 'product_id'], unique=False)
        batch_op.create_index('ux_product_identifier_open', ['tenant_id', 'name', 'value'], unique=True, sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('product_identifier', schema=None) as batch_op:
        batch_op.drop_index('ux_product_identifier_open', sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))
        batch_op.drop_index('ix_product_identifier_product')
        batch_op.drop_index('ix_product_identifier_lookup')

    op.drop_table('product_identifier')
    with op.batch_alter_table('product_history', schema=None) as batch_op:
        batch_op.drop_index('ix_product_history_product')

    op.drop_table('product_history')
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_index('ix_product_tenant_status')
        batch_op.drop_index(batch_op.f('ix_product_tenant_id'))
        batch_op.drop_index('ix_product_tenant_account')

    op.drop_table('product')
