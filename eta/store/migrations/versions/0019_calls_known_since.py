"""when eta first knew each call

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 15:00:00

``calls.known_since``: when eta first knew a call (a collector's fetch of the plan that listed it; the
snapshot's time in a replay; an importer's estimate). The read model shows a call at ``now`` only when
``known_since <= now``. Calls stored before this migration keep NULL: known before anything stored.
Added with ``ALTER TABLE … ADD COLUMN`` on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import eta.store.schema

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('known_since', eta.store.schema.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('known_since')
