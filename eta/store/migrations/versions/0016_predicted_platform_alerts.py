"""opt-in alerts on predicted platform changes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 13:00:00

A subscription may also ask to hear when eta's predicted platform changes before the operator announces
one (``watch_predicted_platform``, false for the subscriptions made before: they hear of announced
changes). Added with ``ALTER TABLE … ADD COLUMN`` on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('watch_predicted_platform', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('watch_predicted_platform')
