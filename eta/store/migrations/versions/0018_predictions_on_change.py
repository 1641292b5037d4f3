"""served predictions written on change: confirmed_at and the sweep log

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 15:00:00

A served prediction is written only when it changes materially; ``predictions.confirmed_at`` is the latest
re-prediction that found it unchanged (rows written before: their own ``made_at``), and
``prediction_sweeps`` logs every sweep of the serving window per mode, so that "the prediction in force is
current as of the latest sweep" stays answerable and accuracy samples each sweep.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import eta.store.schema

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_at', eta.store.schema.UTCDateTime(timezone=True), nullable=True))
    op.execute('UPDATE predictions SET confirmed_at = made_at')
    op.create_table(
        'prediction_sweeps',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('mode', sa.String(length=8), nullable=False),
        sa.Column('swept_at', eta.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column('n_calls', sa.Integer(), nullable=False),
        sa.Column('n_written', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prediction_sweeps')),
    )
    op.create_index(
        op.f('ix_prediction_sweeps_mode_swept_at'), 'prediction_sweeps', ['mode', 'swept_at'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_prediction_sweeps_mode_swept_at'), table_name='prediction_sweeps')
    op.drop_table('prediction_sweeps')
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('confirmed_at')
