"""arrival quantiles kept with each prediction

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 15:10:00

Each prediction keeps the whole arrival distribution beside its P10/P50/P90: the quantiles at 0.05, 0.10,
… 0.95 as whole-second offsets from the P50, comma-separated (``eta.model.distribution.encode``, about
80 bytes). Empty for predictions made before, and for models that predict no arrival. Added with
``ALTER TABLE … ADD COLUMN`` on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arrival_quantiles', sa.String(length=240), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('arrival_quantiles')
