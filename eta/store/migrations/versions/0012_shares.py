"""shares

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 12:00:00

Read-only links to one call's arrival ("share with whoever picks me up"): the call, the hashes of the
link's key and of its revocation token, and when the link is purged at the latest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import eta.store.schema

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'shares',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('revoke_hash', sa.String(length=64), nullable=False),
        sa.Column('call_id', sa.BigInteger(), nullable=False),
        sa.Column('created_at', eta.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', eta.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_shares_call_id_calls'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_shares')),
    )
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shares_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shares_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shares_expires_at'))
        batch_op.drop_index(batch_op.f('ix_shares_call_id'))
    op.drop_table('shares')
