"""longer model task names

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 12:00:00

The registry's ``task`` column holds ``platform_unpublished`` (the platform model for stations that
announce platforms only shortly before arrival), longer than the 12 characters it allowed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.alter_column('task', existing_type=sa.String(length=12), type_=sa.String(length=24))


def downgrade() -> None:
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.alter_column('task', existing_type=sa.String(length=24), type_=sa.String(length=12))
