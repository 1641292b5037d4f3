"""merge api and collector branches

Revision ID: 0007
Revises: 0004, 0006
Create Date: 2026-11-23 03:11:32.775073
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import eta.store.schema

revision = '0007'
down_revision = ('0004', '0006')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
