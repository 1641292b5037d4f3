"""dashboard sessions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 14:00:00

Issue 16: the dashboard's cookie is a session, not the operator's API key. A session is a random id of
which only the SHA-256 is kept, tied to one API key (gone with it), with an expiry and a revocation time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import eta.store.schema

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dashboard_sessions',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('api_key_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('created_at', eta.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', eta.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', eta.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_dashboard_sessions_api_key_id_api_keys'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dashboard_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_dashboard_sessions_token_hash')),
    )
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_sessions_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_sessions_expires_at'))
    op.drop_table('dashboard_sessions')
