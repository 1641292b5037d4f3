"""subscription hosts and sealed secrets

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 12:00:00

Issue 16: a subscription's target host, in clear, to count subscriptions per host; the target URL, the
signing secret and the Web Push keys encrypted at rest (``enc1:`` + Fernet, eta.alerts.sealed), so the
columns widen. Existing rows are sealed here, with the key the migrating process is configured with
(ETA_ALERTS__SECRETS_KEY, or the key file in its data directory).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

SEALED = ('target_url', 'secret', 'push_p256dh', 'push_auth')


def upgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_host', sa.String(length=253), nullable=True))
        batch_op.alter_column('target_url', existing_type=sa.String(length=2000), type_=sa.String(length=4000), existing_nullable=False)
        batch_op.alter_column('secret', existing_type=sa.String(length=100), type_=sa.String(length=200), existing_nullable=False)
        batch_op.alter_column('push_p256dh', existing_type=sa.String(length=100), type_=sa.String(length=300), existing_nullable=True)
        batch_op.alter_column('push_auth', existing_type=sa.String(length=40), type_=sa.String(length=200), existing_nullable=True)
        batch_op.create_index(batch_op.f('ix_subscriptions_target_host'), ['target_host'], unique=False)
    _seal_existing_rows()


def _seal_existing_rows() -> None:
    conn = op.get_bind()
    subscriptions = sa.table('subscriptions', sa.column('id'), sa.column('target_host'), *(sa.column(c) for c in SEALED))
    rows = conn.execute(sa.select(subscriptions)).all()
    if not rows:
        return
    from eta.alerts.sealed import PREFIX, Sealer
    from eta.config import Settings, get_settings

    config = op.get_context().config
    settings = config.attributes.get('settings') if config is not None else None
    sealer = Sealer.from_settings(settings if isinstance(settings, Settings) else get_settings())
    for row in rows:
        values = {'target_host': (urlsplit(row.target_url).hostname or '').lower()}
        for column in SEALED:
            value = getattr(row, column)
            if value is not None and not value.startswith(PREFIX):
                values[column] = sealer.seal(value)
        conn.execute(sa.update(subscriptions).where(subscriptions.c.id == row.id).values(**values))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.execute(sa.text('SELECT count(*) FROM subscriptions')).scalar_one():
        raise RuntimeError('subscriptions hold sealed secrets: delete them before downgrading below 0013')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriptions_target_host'))
        batch_op.alter_column('push_auth', existing_type=sa.String(length=200), type_=sa.String(length=40), existing_nullable=True)
        batch_op.alter_column('push_p256dh', existing_type=sa.String(length=300), type_=sa.String(length=100), existing_nullable=True)
        batch_op.alter_column('secret', existing_type=sa.String(length=200), type_=sa.String(length=100), existing_nullable=False)
        batch_op.alter_column('target_url', existing_type=sa.String(length=4000), type_=sa.String(length=2000), existing_nullable=False)
        batch_op.drop_column('target_host')
