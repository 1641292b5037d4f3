"""Changing the declared length of ``VARCHAR`` columns in place, for migrations 0021 and 0022.

PostgreSQL widens a column in place (a catalogue change: no table rewrite, no index rebuild). SQLite
does not enforce lengths; its declared types are rewritten in the schema text (same TEXT affinity, same
file content) rather than by recreating the table: dropping ``calls`` would cascade to every observation.

Migrations that have run use this: a change here must leave what it does to their schemas as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# table, column, length before, length after
Widening = tuple[str, str, int, int]


def widen(columns: Sequence[Widening]) -> None:
    """Every column from its length before to its length after."""
    _change([(table, column, before, after) for table, column, before, after in columns])


def narrow(columns: Sequence[Widening]) -> None:
    """Undo :func:`widen` (on PostgreSQL it fails while a longer value is stored)."""
    _change([(table, column, after, before) for table, column, before, after in columns])


def _change(columns: Sequence[Widening]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        for table, column, old, new in columns:
            op.alter_column(table, column, existing_type=sa.String(old), type_=sa.String(new))
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    for table in sorted({t for t, *_ in columns}):
        sql = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).scalar_one()
        for name, column, old, new in columns:
            if name == table:
                sql, found = re.subn(rf'(\b{column}"? )VARCHAR\({old}\)', rf"\g<1>VARCHAR({new})", sql)
                # a column declared otherwise than the migrations before left it: change nothing
                if found != 1:
                    raise RuntimeError(f"{table}.{column} VARCHAR({old}) not found in its declaration")
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
        )
    # SQLite reads the schema again only when its version moves
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
