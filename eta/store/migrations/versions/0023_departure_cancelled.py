"""a call's departure cancelled apart from its arrival

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 07:00:00

``observations.departure_cancelled``: whether the report cancels the call's departure, where a source says
so apart from its arrival (DB IRIS cancels each event: a train ending early keeps its arrival at the stop it
ends at and loses the departure; one starting late, the other way round). ``cancelled`` stays the arrival's
cancellation (for a call without an arrival, its departure's). NULL: the report says nothing of the
departure apart, which then reads as ``cancelled`` (every other source, and every report stored before this
migration, which merged the two). Added with ``ALTER TABLE … ADD COLUMN`` on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('departure_cancelled', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_column('departure_cancelled')
