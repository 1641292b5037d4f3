"""served interval calibrations

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 15:30:00

Predictions keep the model's own P10/P90 and the calibration bucket beside the served interval, and a
table holds the re-calibrations fitted on served predictions and their actual arrivals. Columns are added
with ``ALTER TABLE … ADD COLUMN`` on both backends (no rebuild of the large predictions table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import eta.store.schema

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model_p10_arrival', eta.store.schema.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('model_p90_arrival', eta.store.schema.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('interval_bucket', sa.String(length=24), nullable=True))
    op.create_table(
        'served_calibrations',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('model_version', sa.String(length=64), nullable=False),
        sa.Column('computed_at', eta.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column('arrivals_from', eta.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column('arrivals_until', eta.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('coverage_before', sa.Float(), nullable=False),
        sa.Column('calibration', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_served_calibrations')),
    )
    with op.batch_alter_table('served_calibrations', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_served_calibrations_model_version_computed_at'),
            ['model_version', 'computed_at'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('served_calibrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_served_calibrations_model_version_computed_at'))
    op.drop_table('served_calibrations')
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('interval_bucket')
        batch_op.drop_column('model_p90_arrival')
        batch_op.drop_column('model_p10_arrival')
