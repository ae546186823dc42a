"""orders quotes fulfilment tenant settings

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:02:12.818138
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import openbss.core.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cancel_product_order',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('requested_at', openbss.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('body', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_cancel_product_order_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cancel_product_order'))
    )
    with op.batch_alter_table('cancel_product_order', schema=None) as batch_op:
        batch_op.create_index('ix_cancel_product_order_order', ['tenant_id', 'order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cancel_product_order_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('fulfilment_step',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('waits_for', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False),
    sa.Column('due_at', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('not_before', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('external_ref', sa.String(length=200), nullable=True),
    sa.Column('external_state', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('started_at', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_fulfilment_step_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfilment_step'))
    )
    with op.batch_alter_table('fulfilment_step', schema=None) as batch_op:
        batch_op.create_index('ix_fulfilment_step_due', ['state', 'due_at'], unique=False)
        batch_op.create_index('ix_fulfilment_step_order', ['tenant_id', 'order_id'], unique=False)

    op.create_table('product_order',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('billing_account_id', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('quote_id', sa.String(length=32), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('order_date', openbss.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('requested_start_date', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('requested_completion_date', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completion_date', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('provisioning_started', sa.Boolean(), nullable=False),
    sa.Column('last_update', openbss.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_product_order_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_order'))
    )
    with op.batch_alter_table('product_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_order_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_product_order_tenant_state', ['tenant_id', 'state'], unique=False)

    op.create_table('product_order_item',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('item_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('product_id', sa.String(length=32), nullable=True),
    sa.Column('offering_id', sa.String(length=64), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('billing_account_id', sa.String(length=64), nullable=True),
    sa.Column('body', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_product_order_item_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_order_item'))
    )
    with op.batch_alter_table('product_order_item', schema=None) as batch_op:
        batch_op.create_index('ix_product_order_item_order', ['tenant_id', 'order_id', 'position'], unique=False)
        batch_op.create_index('ix_product_order_item_product', ['tenant_id', 'product_id', 'state'], unique=False)

    op.create_table('quote',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('billing_account_id', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('quote_date', openbss.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_from', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('valid_to', openbss.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('product_order_id', sa.String(length=32), nullable=True),
    sa.Column('last_update', openbss.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_quote_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quote'))
    )
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quote_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_quote_tenant_state', ['tenant_id', 'state'], unique=False)

    op.create_table('tenant_setting',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON().with_variant(sa.JSON(none_as_null=True), 'postgresql'), nullable=False),
    sa.Column('updated_at', openbss.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_tenant_setting_tenant_id_tenant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant_setting')),
    sa.UniqueConstraint('tenant_id', 'name', name='uq_tenant_setting_name')
    )


def downgrade() -> None:
    op.drop_table('tenant_setting')
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.drop_index('ix_quote_tenant_state')
        batch_op.drop_index(batch_op.f('ix_quote_tenant_id'))

    op.drop_table('quote')
    with op.batch_alter_table('product_order_item', schema=None) as batch_op:
        batch_op.drop_index('ix_product_order_item_product')
        batch_op.drop_index('ix_product_order_item_order')

    op.drop_table('product_order_item')
    with op.batch_alter_table('product_order', schema=None) as batch_op:
        batch_op.drop_index('ix_product_order_tenant_state')
        batch_op.drop_index(batch_op.f('ix_product_order_tenant_id'))

    op.drop_table('product_order')
    with op.batch_alter_table('fulfilment_step', schema=None) as batch_op:
        batch_op.drop_index('ix_fulfilment_step_order')
        batch_op.drop_index('ix_fulfilment_step_due')

    op.drop_table('fulfilment_step')
    with op.batch_alter_table('cancel_product_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cancel_product_order_tenant_id'))
        batch_op.drop_index('ix_cancel_product_order_order')

    op.drop_table('cancel_product_order')
