"""wider trip numbers, categories and platform names

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 16:00:00

Real feeds do not fit 16 characters: GTFS-Realtime trip ids outside gtfs.de (the service ``number``) run
to 40 and more, IRIS platform names such as "Gleis 11 A-D Nord" past 16 (issue 21 §3). PostgreSQL
refused them in the bulk write and every run crashed on the same archived batch; SQLite stored them.

PostgreSQL widens the columns in place (a catalogue change, no table rewrite). SQLite does not enforce
the lengths; its declared types are rewritten in the schema text (same TEXT affinity, same file
content) rather than by recreating ``calls``, whose drop would cascade to every observation.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

WIDER = (  # table, column, before, after
    ("services", "operator", 16, 32),
    ("services", "number", 16, 128),
    ("services", "leg", 16, 32),
    ("services", "category", 16, 32),
    ("calls", "planned_platform", 16, 32),
    ("observations", "platform", 16, 32),
    ("observations", "terminal", 16, 32),
    ("predictions", "platform", 16, 32),
    ("subscriptions", "notified_platform", 16, 32),
    ("subscriptions", "platform_candidate", 16, 32),
)


def upgrade() -> None:
    _change(lambda before, after: (before, after))


def downgrade() -> None:
    _change(lambda before, after: (after, before))


def _change(direction) -> None:  # type: ignore[no-untyped-def]
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        for table, column, before, after in WIDER:
            old, new = direction(before, after)
            op.alter_column(table, column, existing_type=sa.String(old), type_=sa.String(new))
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    for table in sorted({t for t, *_ in WIDER}):
        sql = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).scalar_one()
        for name, column, before, after in WIDER:
            if name == table:
                old, new = direction(before, after)
                sql = re.sub(rf"\b{column} VARCHAR\({old}\)", f"{column} VARCHAR({new})", sql)
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
        )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
