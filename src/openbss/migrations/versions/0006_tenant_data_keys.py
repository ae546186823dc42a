"""personal data at rest: tenant data keys, encrypted party documents, blind indexes

Creates ``tenant_data_key``; encrypts the e-mails, phones, postal addresses and
identification numbers already stored in party, customer and account documents under a
new data key per tenant; rebuilds the search keys (plain e-mails/phones, identification
hashes under the global secret) as blind indexes under the tenant's index key;
drops the plain ``party.email`` / ``party.phone`` columns.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 02:00:00
"""
from __future__ import annotations

import os
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from openbss.core.db import UTCDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'tenant_data_key',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('tenant_id', sa.String(length=32), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('wrapped_key', sa.Text(), nullable=False),
        sa.Column('kek_id', sa.String(length=16), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('retired_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'],
                                name=op.f('fk_tenant_data_key_tenant_id_tenant')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant_data_key')),
    )
    op.create_index('ix_tenant_data_key_tenant', 'tenant_data_key', ['tenant_id', 'purpose'],
                    unique=False)
    _encrypt_existing_data()
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite ≥ 3.35 drops a plain column in place (no table copy, so the foreign
        # keys pointing at party are untouched).
        op.execute('ALTER TABLE party DROP COLUMN email')
        op.execute('ALTER TABLE party DROP COLUMN phone')
    else:
        op.drop_column('party', 'email')
        op.drop_column('party', 'phone')


def _encrypt_existing_data() -> None:
    from openbss.core import crypto
    from openbss.core.db import new_id
    from openbss.party.personal import seal_with, search_keys, unseal

    bind = op.get_bind()
    keys = sa.table('tenant_data_key', sa.column('id', sa.String), sa.column(
        'tenant_id', sa.String), sa.column('purpose', sa.String), sa.column(
        'wrapped_key', sa.Text), sa.column('kek_id', sa.String), sa.column(
        'active', sa.Boolean), sa.column('created_at', UTCDateTime()))
    documents = {name: sa.table(name, sa.column('id', sa.String),
                                sa.column('tenant_id', sa.String), sa.column('body', sa.JSON))
                 for name in ('party', 'customer', 'account')}
    search = sa.table('party_search_key', sa.column('tenant_id', sa.String),
                      sa.column('party_id', sa.String), sa.column('key_type', sa.String),
                      sa.column('value', sa.String))
    tenants: set[str] = set()
    for table in documents.values():
        tenants |= {r[0] for r in bind.execute(sa.select(table.c.tenant_id).distinct())}
    now = datetime.now(UTC)
    for tenant_id in sorted(tenants):
        made = {}
        for purpose in (crypto.DATA, crypto.INDEX):
            key_id, material = new_id(), os.urandom(32)
            kek_id, wrapped = crypto.wrap_key(material, tenant_id=tenant_id, key_id=key_id,
                                              purpose=purpose)
            bind.execute(keys.insert().values(id=key_id, tenant_id=tenant_id,
                                              purpose=purpose, wrapped_key=wrapped,
                                              kek_id=kek_id, active=True, created_at=now))
            made[purpose] = crypto.DataKey(key_id, tenant_id, purpose, material)
        ring = crypto.Keyring(tenant_id, [made[crypto.DATA]], [made[crypto.INDEX]])
        for name, table in documents.items():
            rows = bind.execute(sa.select(table.c.id, table.c.body).where(
                table.c.tenant_id == tenant_id)).all()
            for row_id, body in rows:
                if not isinstance(body, dict):
                    continue
                plain = unseal(None, body)
                bind.execute(table.update().where(table.c.id == row_id).values(
                    body=seal_with(ring, plain)))
                if name == 'party':
                    # plain e-mails and phones, and identification hashes under the global
                    # secret, become blind indexes under the tenant's index key
                    bind.execute(search.delete().where(search.c.party_id == row_id))
                    for key_type, value in sorted(search_keys(ring, plain)):
                        bind.execute(search.insert().values(
                            tenant_id=tenant_id, party_id=row_id, key_type=key_type,
                            value=value))


def downgrade() -> None:
    # Dropping the keys would make every encrypted value unreadable: only an empty
    # installation can go back (otherwise restore the backup taken before upgrading).
    if op.get_bind().execute(sa.text('SELECT count(*) FROM tenant_data_key')).scalar():
        raise RuntimeError('cannot downgrade below 0006: personal data is encrypted with '
                           'the tenant data keys; restore a backup instead')
    op.add_column('party', sa.Column('email', sa.String(length=320), nullable=True))
    op.add_column('party', sa.Column('phone', sa.String(length=20), nullable=True))
    op.drop_index('ix_tenant_data_key_tenant', table_name='tenant_data_key')
    op.drop_table('tenant_data_key')
