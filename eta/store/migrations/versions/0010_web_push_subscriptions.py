"""web push subscriptions

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 08:00:00

A subscription's channel (``webhook``, as every existing one, or ``web_push``) and, for Web Push, the
browser's public key and auth secret. ``ALTER TABLE … ADD COLUMN`` on both backends (no table rebuild).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), server_default='webhook', nullable=False))
        batch_op.add_column(sa.Column('push_p256dh', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('push_auth', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('push_auth')
        batch_op.drop_column('push_p256dh')
        batch_op.drop_column('channel')
