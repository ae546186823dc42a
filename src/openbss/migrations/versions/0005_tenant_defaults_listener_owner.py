"""tenant default currency; hub listeners remember the key that registered them

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_currency', sa.String(length=3),
                                      server_default='EUR', nullable=False))
    with op.batch_alter_table('hub_subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_key_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_hub_subscription_owner_key_id'),
                              ['owner_key_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_hub_subscription_owner_key_id_api_key'),
                                    'api_key', ['owner_key_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('hub_subscription', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_hub_subscription_owner_key_id_api_key'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_hub_subscription_owner_key_id'))
        batch_op.drop_column('owner_key_id')
    with op.batch_alter_table('tenant', schema=None) as batch_op:
        batch_op.drop_column('default_currency')
