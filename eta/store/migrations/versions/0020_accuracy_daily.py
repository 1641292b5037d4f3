"""daily accuracy aggregates of served predictions past their retention

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 15:20:00

Served predictions older than ``ETA_STORE__PREDICTIONS_KEEP_DAYS`` are rolled up into ``accuracy_daily``
(the sums the operator accuracy is computed from, per day, mode, service date, station, line and horizon
band) and then deleted; the operator API and the dashboard keep serving them from there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'accuracy_daily',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('mode', sa.String(length=8), nullable=False),
        sa.Column('service_date', sa.Date(), nullable=True),
        sa.Column('location', sa.String(length=32), nullable=False),
        sa.Column('line', sa.String(length=32), nullable=False),
        sa.Column('horizon', sa.String(length=12), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('model_abs_s', sa.Float(), nullable=False),
        sa.Column('model_err_s', sa.Float(), nullable=False),
        sa.Column('timetable_abs_s', sa.Float(), nullable=False),
        sa.Column('n_operator', sa.Integer(), nullable=False),
        sa.Column('operator_abs_s', sa.Float(), nullable=False),
        sa.Column('n_covered', sa.Integer(), nullable=False),
        sa.Column('n_platform', sa.Integer(), nullable=False),
        sa.Column('n_platform_hit', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_accuracy_daily')),
        sa.UniqueConstraint(
            'day', 'mode', 'service_date', 'location', 'line', 'horizon',
            name=op.f('uq_accuracy_daily_day_mode_service_date_location_line_horizon'),
        ),
    )
    op.create_index(op.f('ix_accuracy_daily_day'), 'accuracy_daily', ['day'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_accuracy_daily_day'), table_name='accuracy_daily')
    op.drop_table('accuracy_daily')
