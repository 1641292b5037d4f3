"""wider location codes

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 19:00:00

A GTFS feed's stop ids are unique only within it, so a named GTFS instance stores its stations as
``<instance>:<stop_id>`` (two operators' feeds naming different stations by one stop id were one location
and one board). Instance names and stop ids together run past 32 characters: every column holding a
location code goes to 128, as the service number holding ``<instance>:<trip_id>`` did in 0021.

As in 0021, PostgreSQL widens the columns in place (a catalogue change: no table rewrite, no index
rebuild); SQLite does not enforce lengths, and its declared types are rewritten in the schema text (same
TEXT affinity, same file content) rather than by recreating ``calls``, whose drop would cascade to every
observation. A downgrade fails on PostgreSQL while a longer code is stored.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

WIDER = (  # table, column, before, after
    ("locations", "code", 32, 128),
    ("services", "origin", 32, 128),
    ("services", "destination", 32, 128),
    ("calls", "location", 32, 128),
    ("weather", "location", 32, 128),
    ("accuracy_daily", "location", 32, 128),
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
                sql, found = re.subn(rf'(\b{column}"? )VARCHAR\({old}\)', rf"\g<1>VARCHAR({new})", sql)
                if found != 1:  # a column declared otherwise than 0001-0021 left it: change nothing
                    raise RuntimeError(f"{table}.{column} VARCHAR({old}) not found in its declaration")
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
        )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
