"""Rows and bytes per table (with its indexes), on both backends: for `eta stats`, the Prometheus gauges
and the storage benchmarks.

SQLite: pages per table and index from the ``dbstat`` virtual table (it walks every page: seconds on a
large file, so callers cache it); PostgreSQL: ``pg_total_relation_size`` (table, indexes and TOAST).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select, text

from eta.store.schema import metadata


@dataclass(frozen=True)
class Size:
    rows: int
    bytes: int


def table_sizes(engine: Engine) -> dict[str, Size]:
    """Per table of the schema: its rows and the bytes it and its indexes take."""
    with engine.connect() as conn:
        counts = {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in metadata.tables.items()
        }
        taken = _sqlite_bytes(conn) if conn.dialect.name == "sqlite" else _postgres_bytes(conn)
    return {name: Size(rows, taken.get(name, 0)) for name, rows in sorted(counts.items())}


def _sqlite_bytes(conn: Connection) -> dict[str, int]:
    owner: dict[str, str] = {
        str(name): str(table)
        for name, table in conn.execute(text("SELECT name, tbl_name FROM sqlite_master"))
    }
    out: dict[str, int] = {}
    for name, size in conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")):
        table = owner.get(str(name), str(name))
        out[table] = out.get(table, 0) + int(size or 0)
    return out


def _postgres_bytes(conn: Connection) -> dict[str, int]:
    out = {}
    for name in metadata.tables:
        size = conn.execute(
            text("SELECT pg_total_relation_size(to_regclass(:name))"), {"name": name}
        ).scalar()
        out[name] = int(size or 0)
    return out
