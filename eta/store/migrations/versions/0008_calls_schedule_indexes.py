"""calls schedule indexes: the serving window's calls are found without scanning every call

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 05:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_calls_scheduled_arrival_scheduled_departure'),
            ['scheduled_arrival', 'scheduled_departure'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calls_scheduled_arrival_scheduled_departure'))
